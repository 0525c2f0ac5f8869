"""Process-wide native library fixes that must run before any extension is imported.

The ``usearch`` 2.26 wheel links libstdc++ statically and exports its locale-facet
ids as GNU-unique symbols; when ``onnxruntime`` (which uses the shared libstdc++)
is imported *after* ``usearch`` without this preload, the process segfaults inside
``import onnxruntime`` (``python -c "import usearch.index, onnxruntime"``). Loading
the shared library with RTLD_GLOBAL first makes both agree on one set of symbols.
``engine/__init__`` runs this, so every import path through the engine is safe.
"""

from __future__ import annotations

import ctypes
import sys


def preload_shared_libstdcxx() -> bool:
    """Load the system libstdc++ with RTLD_GLOBAL (Linux only; a no-op elsewhere).

    Returns:
        True when the library was loaded (or was already), False when it is not there.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL("libstdc++.so.6", mode=ctypes.RTLD_GLOBAL)
    except OSError:
        return False
    return True


SHARED_LIBSTDCXX_PRELOADED = preload_shared_libstdcxx()
"""Whether the preload succeeded (diagnostics only)."""
