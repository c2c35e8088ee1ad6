"""The one read cache: results of store reads keyed on the store's data version, bounded, computed once.

Every surface (API requests, the dashboard's sessions, the CLI) asks for the same few reads, and they change
only when fills are added or removed — which changes ``Store.data_version()`` in every process. So a read is
kept under ``(name, arguments, data version)``: a new fill makes a new version and the next read recomputes;
older versions fall out of the LRU (at most ``MAX_ENTRIES`` per store). Concurrent callers of one key wait for
the single computation instead of repeating it.

Callers get the cached object itself: cached values must be immutable (tuples, bytes, frozen frames) or
never modified by the caller.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

from cachetools import LRUCache

T = TypeVar("T")
#: Entries kept per store (every key of every version together).
MAX_ENTRIES = 256


class ReadCache:
    """A bounded LRU with single-flight computation per key (thread-safe)."""

    def __init__(self, maxsize: int = MAX_ENTRIES) -> None:
        self._lru: LRUCache[Hashable, Any] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()
        self._running: dict[Hashable, Future[Any]] = {}  # only keys being computed right now
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._lru)

    @property
    def maxsize(self) -> int:
        return int(self._lru.maxsize)

    def get(self, key: Hashable, compute: Callable[[], T], stale_key: Hashable | None = None) -> T:
        """The value under ``key``, computing it (once, however many threads ask) when absent.

        While another thread computes it, a caller gets the value under ``stale_key`` when that one is kept
        (the previous answer, e.g. a second older) instead of waiting. An exception of ``compute`` reaches
        every waiting caller and nothing is cached.
        """
        with self._lock:
            try:
                value = self._lru[key]
            except KeyError:
                pass
            else:
                self.hits += 1
                return value
            running = self._running.get(key)
            owner = running is None
            if not owner and stale_key is not None and stale_key in self._lru:
                self.hits += 1
                return self._lru[stale_key]
            if running is None:
                running = self._running[key] = Future()
                self.misses += 1
        if not owner:
            return running.result()
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                self._running.pop(key, None)
            running.set_exception(exc)
            raise
        with self._lock:
            self._lru[key] = value
            self._running.pop(key, None)
        running.set_result(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()


_caches: weakref.WeakKeyDictionary[Any, ReadCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def for_store(store: Any) -> ReadCache:
    """The read cache of ``store`` (one per store, gone with it): a store and its repositories share their
    database object's cache."""
    store = getattr(store, "db", store)
    with _caches_lock:
        try:
            cache = _caches.get(store)
            if cache is None:
                cache = _caches[store] = ReadCache()
        except TypeError:  # an object that cannot be weakly referenced: nothing is shared for it
            return ReadCache(maxsize=1)
        return cache


def versioned(
    store: Any, name: str, args: tuple[Hashable, ...], compute: Callable[[], T],
    stale_args: tuple[Hashable, ...] | None = None,
) -> T:
    """``compute()`` cached under (``name``, ``args``, the store's current data version); while it is being
    computed, other callers get the value under ``stale_args`` (same version) when kept."""
    version = store.data_version()
    stale = None if stale_args is None else (name, stale_args, version)
    return for_store(store).get((name, args, version), compute, stale)
