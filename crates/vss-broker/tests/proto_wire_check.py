#!/usr/bin/env python3
"""Check that the crate's protos (proto/kuksa/val/v{1,2}) are wire-compatible with kuksa-client 0.6.0.

Compiles them with grpcio-tools (a kuksa-client dependency) and compares every message field
(number, name, type, repeated, oneof membership), every enum value and every RPC (request,
response, streaming) with the descriptors kuksa-client ships. Run by tests/all/kuksa_client.rs.
Exit status 0 and a last line `PROTOS MATCH` mean they agree.
"""
import os
import sys
import tempfile

try:
    import grpc_tools
    from grpc_tools import protoc
    from google.protobuf import descriptor_pb2
    import kuksa.val.v1.val_pb2 as v1val
    import kuksa.val.v2.val_pb2  # noqa: F401  (registers v2 in the same pool)
except ImportError as e:
    print(f"kuksa_client is not importable ({e}): pip install kuksa-client==0.6.0", flush=True)
    sys.exit(3)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto")
POOL = v1val.DESCRIPTOR.pool
problems = []
checked = 0


def type_name(f):
    if f.message_type is not None:
        return "." + f.message_type.full_name
    if f.enum_type is not None:
        return "." + f.enum_type.full_name
    return ""


def compare_message(mine, full_name):
    global checked
    theirs = {f.number: f for f in POOL.FindMessageTypeByName(full_name).fields}
    for f in mine.field:
        checked += 1
        t = theirs.get(f.number)
        where = f"{full_name}.{f.name} = {f.number}"
        if t is None:
            problems.append(f"{where}: kuksa-client has no field {f.number}")
            continue
        if (t.name, t.type, type_name(t)) != (f.name, f.type, f.type_name):
            problems.append(f"{where}: kuksa-client has {t.name} of type {t.type} {type_name(t)}")
        if (f.label == f.LABEL_REPEATED) != t.is_repeated:
            problems.append(f"{where}: repeated differs")
        if f.HasField("oneof_index") != (t.containing_oneof is not None):
            problems.append(f"{where}: oneof membership differs")
    for nested in mine.nested_type:
        compare_message(nested, f"{full_name}.{nested.name}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "mine.pb")
        include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        rc = protoc.main(["protoc", f"-I{ROOT}", f"-I{include}", "--include_imports", f"--descriptor_set_out={out}",
                          "kuksa/val/v1/val.proto", "kuksa/val/v2/val.proto"])
        if rc != 0:
            print("FAILED: the protos do not compile", flush=True)
            sys.exit(1)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
    for fd in (f for f in fds.file if f.package.startswith("kuksa.")):
        for m in fd.message_type:
            compare_message(m, f"{fd.package}.{m.name}")
        for e in fd.enum_type:
            theirs = {v.name: v.number for v in POOL.FindEnumTypeByName(f"{fd.package}.{e.name}").values}
            problems.extend(f"{fd.package}.{e.name}.{v.name}" for v in e.value if theirs.get(v.name) != v.number)
        for s in fd.service:
            service = POOL.FindServiceByName(f"{fd.package}.{s.name}")
            for m in s.method:
                t = service.methods_by_name.get(m.name)
                same = t is not None and ("." + t.input_type.full_name, "." + t.output_type.full_name, t.server_streaming, t.client_streaming) == (m.input_type, m.output_type, m.server_streaming, m.client_streaming)
                if not same:
                    problems.append(f"rpc {fd.package}.{s.name}/{m.name} differs")
    for p in problems:
        print(f"MISMATCH: {p}", flush=True)
    print(f"{checked} fields compared", flush=True)
    if problems:
        sys.exit(1)
    print("PROTOS MATCH", flush=True)


if __name__ == "__main__":
    main()
