# Production image: non-root, data volume, PostgreSQL through IMAGESHARE_DATABASE_URL.
# Not built on our development machines (no registry reachable); CI lints it with hadolint.

# The OHIF viewer's prebuilt dist/ from npm (@ohif/app), as `make viewer` fetches it.
FROM node:20-slim AS viewer
ARG OHIF_VERSION=3.13.2
WORKDIR /ohif
RUN npm pack --silent "@ohif/app@${OHIF_VERSION}" \
    && tar xzf "ohif-app-${OHIF_VERSION}.tgz" && rm "ohif-app-${OHIF_VERSION}.tgz"

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY smart ./smart
COPY conformance ./conformance
RUN pip install --no-cache-dir --prefix=/install .
COPY --from=viewer /ohif/package/dist /viewer
RUN PYTHONPATH=/src:/install/lib/python3.11/site-packages python -m app.viewer.install /viewer

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data imageshare \
    && mkdir -p /data && chown imageshare /data
COPY --from=build /install /usr/local
COPY --from=build /viewer /opt/imageshare/viewer
ENV IMAGESHARE_DATA_DIR=/data \
    IMAGESHARE_VIEWER_DIR=/opt/imageshare/viewer \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
USER 10001
WORKDIR /data
EXPOSE 8080
HEALTHCHECK CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz')"]
ENTRYPOINT ["imageshare"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "4"]
