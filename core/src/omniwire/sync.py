"""A blocking facade for scripts: the same stack, driven from a private event loop.

The loop runs in one background thread for the facade's lifetime, so the stack's pooled
connections survive between calls (a fresh loop per call would discard them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from .model import Response, StreamEvent
    from .stack import Stack

__all__ = ["SyncStack"]


class SyncStack:
    def __init__(self, stack: Stack) -> None:
        from anyio.from_thread import start_blocking_portal

        self.stack = stack
        self._cm = start_blocking_portal()
        self._portal = self._cm.__enter__()

    def call(self, request: Any, **kwargs: Any) -> Any:
        return self._portal.call(lambda: self.stack.call(request, **kwargs))

    def invoke(self, request: Any, **kwargs: Any) -> Any:
        return self._portal.call(lambda: self.stack.invoke(request, **kwargs))

    def stream(self, request: Any, **kwargs: Any) -> Iterator[StreamEvent]:
        result = self.stack.stream(request, **kwargs)
        iterator = result.__aiter__()
        try:
            while True:
                try:
                    yield self._portal.call(iterator.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            self._portal.call(result.aclose)

    def collect(self, request: Any, **kwargs: Any) -> Response:
        return self._portal.call(lambda: self.stack.stream(request, **kwargs).collect())

    def close(self) -> None:
        if self._portal is not None:
            self._portal.call(self.stack.aclose)
            self._cm.__exit__(None, None, None)
            self._portal = None  # type: ignore[assignment]

    def __enter__(self) -> SyncStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
