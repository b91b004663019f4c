"""``genzoo serve``: a local web explorer for run directories and their models.

Standard library only (``http.server``) on the server and plain JavaScript in the page, shipped as
package data: nothing to install beyond genzoo, nothing fetched from the internet, no build step.
Not imported by ``import genzoo``. Start it with ``genzoo serve RUNS_DIR`` or
:func:`genzoo.serve.app.make_server`.
"""

from genzoo.serve.app import make_server, serve_in_thread

__all__ = ["make_server", "serve_in_thread"]
