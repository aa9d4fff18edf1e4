# The intake bot in one image: the daemon and the coordinators' web desk (`intake run --web`),
# with Tesseract (Swedish), poppler and the Word tools it reads attachments with.
#
#   docker build -t intake .                      # or: podman build --format docker -t intake .
#   docker build --build-arg BASE_IMAGE=registry.example.org/python:3.11-slim-bookworm -t intake .
#
# BASE_IMAGE is any Debian bookworm image whose `python3` is 3.11 or newer with the venv module:
# the official python:3.11-slim-bookworm (Python in /usr/local) or a city-built Debian base with
# Debian's python3 and python3-venv. Every stage starts from it, so the virtualenv's interpreter is
# there at run time. Behind a TLS-inspecting proxy, hand pip the proxy's CA bundle as a build secret:
#   --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt
# Configuration and secrets come at run time from INTAKE_* variables; see docs/DEPLOY.md.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- deps: a virtualenv with the dependencies, read from pyproject.toml -----------------------------
# Its own stage and layer: a change to the code alone reuses it. The postgres extra (psycopg) is
# always included.
FROM ${BASE_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml ./
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
 && python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["postgres"]))' > requirements.txt \
 && /opt/venv/bin/pip install -r requirements.txt

# --- wheel: the project itself, built into a wheel -------------------------------------------------
FROM deps AS wheel
COPY README.md ./
COPY templates ./templates
COPY intake ./intake
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
 && /opt/venv/bin/pip wheel --no-deps --wheel-dir /dist .

# --- runtime ------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
# tesseract-ocr-swe: Swedish OCR (-l eng drops å, ä, ö); -osd: page orientation; poppler-utils:
# pdftoppm renders scanned pages; antiword/catdoc: Word 97-2003 .doc; fonts-dejavu-core: a font for
# rendering; tzdata: award.timezone (Europe/Stockholm); ca-certificates: TLS to IMAP and SMTP.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-swe tesseract-ocr-osd poppler-utils antiword catdoc \
      fonts-dejavu-core tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && groupadd --gid 10001 intake \
 && useradd --uid 10001 --gid intake --home-dir /var/lib/intake --no-create-home \
      --shell /usr/sbin/nologin intake \
 && mkdir -p /var/lib/intake /etc/intake \
 && chown intake:intake /var/lib/intake && chmod 0750 /var/lib/intake
COPY --from=deps /opt/venv /opt/venv
# The project's wheel on top, in small layers of their own; `intake --version` proves it imports.
# (COPY, not a bind mount from the stage: some builders' caches do not see a mount's content.)
COPY --from=wheel /dist/ /tmp/dist/
RUN /opt/venv/bin/pip install --no-deps --no-index --no-cache-dir --disable-pip-version-check \
      --root-user-action=ignore /tmp/dist/intake-*.whl \
 && rm -rf /tmp/dist \
 && /opt/venv/bin/intake --version
# The container's defaults: data under /var/lib/intake, the desk on all of the container's
# interfaces. Everything about the city (award, mailbox, servers, secrets) comes from INTAKE_*.
COPY deploy/intake.toml /etc/intake/intake.toml
ENV PATH=/opt/venv/bin:$PATH \
    INTAKE_CONFIG=/etc/intake/intake.toml \
    INTAKE_WEB_HOST=0.0.0.0 \
    INTAKE_WEB_PORT=8080 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8
WORKDIR /var/lib/intake
# By number, so that Kubernetes' runAsNonRoot can check it; the account `intake` is uid 10001.
USER 10001:10001
VOLUME ["/var/lib/intake"]
EXPOSE 8080
# GET /healthz is 200 while the web desk serves and the database answers (no curl in a slim image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('INTAKE_WEB_PORT', '8080') + '/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["intake", "run", "--web"]
