# podsift with Postgres and workers; see compose.yaml and docs/scaling.md.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# The CPU build of torch first (local embeddings), or pip pulls a multi-GB CUDA one.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch \
 && pip install --no-cache-dir ".[postgres,embeddings]" \
 && useradd --create-home podsift
USER podsift
ENV PODSIFT_HOME=/data
VOLUME /data
ENTRYPOINT ["podsift"]
