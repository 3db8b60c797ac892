# Kapu gateway image: kapu serve on port 8080. Configure with KAPU_* variables
# (KAPU_DATABASE_URL=postgresql+asyncpg://… for production).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY gateway ./gateway
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 kapu
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER kapu
WORKDIR /home/kapu
ENV KAPU_DATA_DIR=/home/kapu/var
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"
ENTRYPOINT ["kapu"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
