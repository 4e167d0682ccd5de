# syntax=docker/dockerfile:1

# Builder: the exact Go release go.mod asks for, so the image and `go build`
# on a developer machine compile with the same toolchain.
FROM golang:1.26.8 AS build
WORKDIR /src
# Dependencies first: this layer is reused while only our code changes.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Static binary: the final stage has no libc. timetzdata embeds the zone
# database because scratch has none and reports render local dates.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false -tags timetzdata \
      -ldflags "-s -w" -o /out/impact ./cmd/impact \
 && mkdir -p /out/tmp && chmod 1777 /out/tmp

# Runtime: nothing but the binary, CA roots (TLS to Kafka/ClickHouse/Grafana)
# and a writable /tmp. scratch has no tags to drift.
FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="impact" \
      org.opencontainers.image.description="Security impact pipeline: Kafka -> ClickHouse -> Grafana" \
      org.opencontainers.image.source="https://github.com/secimpact/impact" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/tmp /tmp
COPY --from=build /out/impact /usr/local/bin/impact
# 65532 is the conventional "nonroot" uid (distroless); numeric, because
# scratch has no /etc/passwd to resolve a name.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/impact"]
CMD ["--help"]
