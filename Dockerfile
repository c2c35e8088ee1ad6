# perpvol: the dashboard (`perpvol serve`) and the background worker (`perpvol worker`) in one image.
# No secret is baked in: the master key, the dashboard password and the API token come from Docker
# secrets or the environment at run time (see docker-compose.yml).
#
# BASE_IMAGE: any Debian bookworm image with Python 3.11, or plain Debian (Debian's python3 is then
# installed). Default: the official Python slim image. Without a registry, build a local Debian base
# with scripts/docker-base.sh and pass --build-arg BASE_IMAGE=local/debian:bookworm.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# -- build stage: the virtualenv with the pinned dependencies and the package -----------------------------
FROM ${BASE_IMAGE} AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Extras to add to the image, e.g. --build-arg EXTRAS=notebook for JupyterLab and Voila.
ARG EXTRAS=""
# PEM text of extra CA certificates pip must trust (a TLS-intercepting egress proxy); build stage only,
# so it never reaches the final image. Empty for ordinary networks.
ARG EXTRA_CA_CERTS=""

# Python from the base, or Debian's python3 (3.11 on bookworm) on a plain Debian base; binutils for strip.
RUN pkgs=""; \
    python3 -c "import venv, ensurepip" 2>/dev/null || pkgs="python3 python3-venv ca-certificates"; \
    command -v strip >/dev/null || pkgs="$pkgs binutils"; \
    if [ -n "$pkgs" ]; then \
      apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && python3 -c "import sys; assert sys.version_info[:2] >= (3, 11), sys.version" \
 && python3 -m venv /opt/venv \
 && if [ -n "$EXTRA_CA_CERTS" ]; then \
      cat /etc/ssl/certs/ca-certificates.crt > /tmp/ca.pem && printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/ca.pem; \
    fi

WORKDIR /src

# Dependency layer: rebuilt only when the pins change, not when the source does.
COPY pyproject.toml constraints.txt ./
RUN python -c "import sys, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extras = sys.argv[1].replace(',', ' ').split(); \
print('\\n'.join(p['dependencies'] + [r for e in extras for r in p['optional-dependencies'][e]]))" \
    "$EXTRAS" > /tmp/requirements.txt
# Then slim it (size budget 700 MB): no third-party test suites, Cython sources or source maps, pyarrow
# without Flight, S3 and its C++ test module, Panel without the browser bundles of extensions the
# dashboard never loads (code editor, Perspective, deck.gl, Plotly, VTK, reveal.js, ECharts, JSON
# editor, Vega, terminal, Quill, KaTeX, Tabulator), symbols stripped from the native libraries (not
# from the auditwheel-patched *.libs). The imports below fail the build if any of it was needed;
# scripts/docker-smoke.sh fetches every resource the dashboard page references.
RUN if [ -f /tmp/ca.pem ]; then export PIP_CERT=/tmp/ca.pem; fi \
 && pip install -q "setuptools==80.9.0" "wheel==0.45.1" \
 && pip install -q -c constraints.txt -r /tmp/requirements.txt \
 && cd /opt/venv/lib/python3.11/site-packages \
 && find . -type d -name tests -prune -exec rm -rf {} + \
 && find . -type f \( -name '*.map' -o -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' \) -delete \
 && rm -rf pyarrow/include pyarrow/src pyarrow/libarrow_flight.so* pyarrow/libarrow_python_flight.so* \
      pyarrow/_flight*.so pyarrow/libarrow_s3.so* pyarrow/_s3fs*.so pyarrow/_pyarrow_cpp_tests*.so \
 && (cd panel/dist/bundled && rm -rf aceplot perspective deckglplot plotlyplot abstractvtkplot reveal.js@* echarts \
      jsoneditor vegaplot terminal quillinput katex datatabulator) \
 && find . -type f -name '*.so*' -not -path '*.libs/*' -exec strip --strip-unneeded {} + \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

# Source layer: a regular (non-editable) install into the virtualenv; the source tree stays behind, the
# installer goes. Bytecode only for what `perpvol serve` and `perpvol worker` import (startup ~3 s
# instead of ~7 s, 20 MB instead of 115 MB for all of it); the containers never write any
# (PYTHONDONTWRITEBYTECODE). The imports fail the build if the slimming removed anything needed.
COPY README.md ./
COPY perpvol_core ./perpvol_core
COPY perpvol_cli ./perpvol_cli
COPY perpvol_app ./perpvol_app
COPY perpvol_sim ./perpvol_sim
RUN pip install -q --no-deps --no-build-isolation . \
 && pip uninstall -q -y pip setuptools wheel \
 && rm -f /tmp/ca.pem \
 && python -c "import sys, py_compile; \
import polars, pyarrow.parquet, pyarrow.dataset, pyarrow.fs, pandas, panel, panel.command, holoviews, bokeh, psycopg; \
import fastapi, uvicorn, bokeh_fastapi, jinja2, panel.io.fastapi; \
import perpvol_cli.main, perpvol_cli.worker, perpvol_app.serve, perpvol_app.api, perpvol_app.server, perpvol_app.ui; \
import perpvol_core.store, perpvol_core.services.sync, perpvol_core.services.live, perpvol_sim.woox; \
polars.DataFrame({'a': [1]}).to_arrow(); \
files = {getattr(m, '__file__', None) or '' for m in list(sys.modules.values())}; \
[py_compile.compile(f, doraise=True) for f in sorted(files) if f.startswith('/opt/venv/') and f.endswith('.py')]" \
 && python -m compileall -q /opt/venv/lib/python3.11/site-packages/perpvol_* >/dev/null

# -- run stage: the base, the virtualenv, a non-root user ------------------------------------------------
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PERPVOL_HOME=/data

# The same Python as the build stage (the venv points at it); nothing else from apt.
RUN if ! command -v python3 >/dev/null; then \
      apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           python3 ca-certificates >/dev/null \
      && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log; \
    fi \
 && groupadd --gid 10001 perpvol \
 && useradd --uid 10001 --gid perpvol --home-dir /home/perpvol --create-home --shell /usr/sbin/nologin perpvol \
 && mkdir -p /data \
 && chown perpvol:perpvol /data \
 && chmod 0700 /data

COPY --from=build /opt/venv /opt/venv
COPY --chown=perpvol:perpvol notebooks /home/perpvol/notebooks
RUN perpvol --help >/dev/null && python -c "import perpvol_cli.main, perpvol_app, perpvol_core.store"

USER perpvol
WORKDIR /home/perpvol
VOLUME ["/data"]
EXPOSE 5006

# The app's check; the worker service overrides it with `perpvol worker --check` (docker-compose.yml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:5006/api/v1/health', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

ENTRYPOINT ["perpvol"]
CMD ["serve", "--address", "0.0.0.0", "--port", "5006"]
