# Production image: non-root, data volume, PostgreSQL through IMAGESHARE_DATABASE_URL.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY smart ./smart
COPY conformance ./conformance
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data imageshare \
    && mkdir -p /data && chown imageshare /data
COPY --from=build /install /usr/local
ENV IMAGESHARE_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
USER 10001
WORKDIR /data
EXPOSE 8080
HEALTHCHECK CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz')"]
ENTRYPOINT ["imageshare"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "4"]
