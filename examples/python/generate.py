#!/usr/bin/env python3
"""examples/python/generate.py — call inferd from Python (grpcio).

Streams one Generate call and prints the text as it arrives; --info first
prints a few GetModelInfo fields, --tokenize the prompt's token ids. Uses the
stubs the build generates into build/python and Debian's python3-grpcio
(scripts/setup.sh installs both), so run it with /usr/bin/python3 from the
repository root:

    PYTHONPATH=build/python /usr/bin/python3 examples/python/generate.py "Once upon a time"

TLS: --tls-ca (and --tls-cert/--tls-key for mutual TLS), --api-key-file.
Exit status: 0 when the stream ended OK; 1 on a gRPC error (printed to
stderr, nothing more on stdout).
"""

import argparse
import sys

try:
    import grpc
    from inferd.v1 import inference_pb2
    from inferd.v1 import inference_pb2_grpc
except ImportError as error:
    sys.exit("generate.py: %s\n(run from the repository root as "
             "'PYTHONPATH=build/python /usr/bin/python3 examples/python/generate.py ...'; "
             "Debian: apt-get install python3-grpcio python3-protobuf)" % error)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def first_key(path):
    """The first key line of an --api-key-file ('#' comments, blank lines skipped)."""
    for line in read(path).decode().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    sys.exit("generate.py: no key in %s" % path)


def open_channel(args):
    if not args.tls_ca:
        return grpc.insecure_channel(args.addr), None
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.tls_ca),
        private_key=read(args.tls_key) if args.tls_key else None,
        certificate_chain=read(args.tls_cert) if args.tls_cert else None)
    metadata = None
    if args.api_key_file:
        metadata = [("authorization", "Bearer " + first_key(args.api_key_file))]
    return grpc.secure_channel(args.addr, credentials), metadata


def main():
    parser = argparse.ArgumentParser(description="Stream a continuation from inferd.")
    parser.add_argument("prompt")
    parser.add_argument("--addr", default="127.0.0.1:50051", help="HOST:PORT of inferd serve")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--timeout", type=float, default=60.0, help="call deadline, seconds")
    parser.add_argument("--info", action="store_true", help="first print GetModelInfo fields")
    parser.add_argument("--tokenize", action="store_true", help="first print the prompt's ids")
    parser.add_argument("--tls-ca", help="PEM CA that signed the server's certificate")
    parser.add_argument("--tls-cert", help="mutual TLS: this client's PEM certificate")
    parser.add_argument("--tls-key", help="mutual TLS: its PEM key")
    parser.add_argument("--api-key-file", help="file whose first key line is sent as a Bearer key")
    args = parser.parse_args()

    channel, metadata = open_channel(args)
    stub = inference_pb2_grpc.InferenceStub(channel)
    try:
        if args.info:
            info = stub.GetModelInfo(inference_pb2.GetModelInfoRequest(),
                                     timeout=args.timeout, metadata=metadata)
            print("model: %s (%s), vocab %d, context %d" %
                  (info.model_name, info.architecture, info.vocab_size, info.max_context))
        if args.tokenize:
            ids = stub.Tokenize(inference_pb2.TokenizeRequest(text=args.prompt),
                                timeout=args.timeout, metadata=metadata).token_ids
            print("prompt ids: %s" % ",".join(str(i) for i in ids))
        request = inference_pb2.GenerateRequest(
            text=args.prompt, max_tokens=args.max_tokens, temperature=args.temperature)
        if args.seed is not None:
            request.seed = args.seed
        last = None
        for chunk in stub.Generate(request, timeout=args.timeout, metadata=metadata):
            sys.stdout.write(chunk.text)
            sys.stdout.flush()
            last = chunk
        print()
        reason = inference_pb2.FinishReason.Name(last.finish_reason)
        print("finish_reason: %s, prompt_tokens: %d, completion_tokens: %d" %
              (reason, last.usage.prompt_tokens, last.usage.completion_tokens), file=sys.stderr)
    except grpc.RpcError as error:
        sys.stdout.flush()
        print("\ngenerate.py: %s: %s" % (error.code().name, error.details()), file=sys.stderr)
        return 1
    finally:
        channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
