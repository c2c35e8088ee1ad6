# perpvol: the dashboard (`perpvol serve`) and the background worker (`perpvol worker`) in one image.
# No secret is baked in: the master key, the dashboard password and the API token come from Docker
# secrets or the environment at run time (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PERPVOL_HOME=/data

# Extras to add to the image, e.g. --build-arg EXTRAS=notebook for JupyterLab and Voila.
ARG EXTRAS=""

RUN groupadd --system --gid 10001 perpvol \
 && useradd --system --uid 10001 --gid perpvol --home-dir /home/perpvol --create-home perpvol \
 && mkdir -p /data /app \
 && chown perpvol:perpvol /data \
 && python -m venv /opt/venv

WORKDIR /app

# Dependency layer: rebuilt only when the pins change, not when the source does.
COPY pyproject.toml constraints.txt ./
RUN python -c "import sys, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extras = sys.argv[1].replace(',', ' ').split(); \
print('\\n'.join(p['dependencies'] + [r for e in extras for r in p['optional-dependencies'][e]]))" \
    "$EXTRAS" > /tmp/requirements.txt
RUN pip install "setuptools>=68,<81" "wheel>=0.42" \
 && pip install -c constraints.txt -r /tmp/requirements.txt

# Source layer.
COPY README.md ./
COPY perpvol_core ./perpvol_core
COPY perpvol_cli ./perpvol_cli
COPY perpvol_app ./perpvol_app
COPY perpvol_sim ./perpvol_sim
COPY notebooks ./notebooks
RUN pip install --no-deps --no-build-isolation -e . \
 && python -c "import perpvol_cli.main, perpvol_app"

USER perpvol
VOLUME ["/data"]
EXPOSE 5006

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:5006/api/v1/health', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

ENTRYPOINT ["perpvol"]
CMD ["serve", "--address", "0.0.0.0", "--port", "5006"]
