# Kapu gateway image: `kapu serve` on port 8080, as a non-root user.
#   docker build -t kapu .
#   docker run -p 8080:8080 kapu serve --host 0.0.0.0 --demo     # embedded SQLite, demo parties
# Production: KAPU_ENVIRONMENT=production, KAPU_DATABASE_URL=postgresql+asyncpg://…, and the
# key files (docs/configuration.md, "Keys and evidence"); deploy/compose.yaml shows two hosts with
# PostgreSQL and an S3-compatible blob store.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY gateway ./gateway
COPY migrations ./migrations
COPY wsdl ./wsdl
COPY schemas ./schemas
COPY calendar ./calendar
# Wheels for the gateway and every dependency, pinned by constraints.txt (lxml and xmlsec must
# bundle the same libxml2).
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 kapu
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels kapu && rm -rf /wheels
USER kapu
WORKDIR /home/kapu
# Owned by kapu, so that named volumes mounted here (data, shared keys) are writable.
RUN mkdir -p /home/kapu/var /home/kapu/keys
ENV KAPU_DATA_DIR=/home/kapu/var \
    PYTHONUNBUFFERED=1
VOLUME ["/home/kapu/var"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"
ENTRYPOINT ["kapu"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
