"""Checks our generated protos against the reference field tables, field by field, so wire bytes match XMTP."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import xmtp_core.protos
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, ServiceDescriptor
from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.protos.mls.message_contents import content_pb2

PROJECT_ROOT = Path(__file__).resolve().parents[4]
REFERENCE = PROJECT_ROOT.parent / "shared" / "reference"
FIELDS_TXT = REFERENCE / "xmtp-node-api-fields.txt"
PROTOS_MD = REFERENCE / "xmtp-protos.md"

SCALARS = {
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_SINT32: "sint32",
    FieldDescriptor.TYPE_SINT64: "sint64",
    FieldDescriptor.TYPE_FIXED32: "fixed32",
    FieldDescriptor.TYPE_FIXED64: "fixed64",
}


def _import_all_protos() -> None:
    # Importing every generated module registers all descriptors in the default pool.
    for info in pkgutil.walk_packages(xmtp_core.protos.__path__, prefix="xmtp_core.protos."):
        importlib.import_module(info.name)


_import_all_protos()
POOL = descriptor_pool.Default()


def _type_name(field: FieldDescriptor) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return str(field.message_type.full_name)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return str(field.enum_type.full_name)
    return SCALARS[field.type]


def _message(full_name: str) -> Descriptor:
    try:
        return POOL.FindMessageTypeByName(full_name)
    except KeyError:
        pytest.fail(f"message {full_name} is missing from our protos")


def _enum(full_name: str) -> EnumDescriptor:
    try:
        return POOL.FindEnumTypeByName(full_name)
    except KeyError:
        pytest.fail(f"enum {full_name} is missing from our protos")


# ---------------------------------------------------------------------------------------------------------
# xmtp-node-api-fields.txt: "pkg.Msg: name=N:[repeated ]type [oneof X]; ..." and service blocks.


@dataclass(frozen=True)
class ApiField:
    message: str
    name: str
    number: int
    repeated: bool
    type: str
    oneof: str | None


@dataclass(frozen=True)
class ApiRpc:
    service: str
    name: str
    request: str
    response: str
    client_streaming: bool
    server_streaming: bool


FIELD_RE = re.compile(r"^(\w+)=(\d+):(repeated )?(\S+)(?: \[oneof (\w+)\])?$")
RPC_RE = re.compile(r"^rpc (\w+)\((stream )?([\w.]+)\) -> (stream )?([\w.]+)$")


def _parse_fields_txt() -> tuple[dict[str, list[ApiField]], list[ApiRpc]]:
    messages: dict[str, list[ApiField]] = {}
    rpcs: list[ApiRpc] = []
    service: str | None = None
    for raw in FIELDS_TXT.read_text().splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("== service "):
            service = line.removeprefix("== service ")
            continue
        if line.startswith("rpc "):
            match = RPC_RE.match(line)
            assert match, f"unparsed rpc line: {line!r}"
            assert service is not None
            name, cstream, req, sstream, resp = match.groups()
            rpcs.append(ApiRpc(service, name, req, resp, bool(cstream), bool(sstream)))
            continue
        head, _, body = line.partition(": ")
        message = "xmtp." + head.rstrip(":")
        fields = messages.setdefault(message, [])
        for part in filter(None, (p.strip() for p in body.split(";"))):
            match = FIELD_RE.match(part)
            assert match, f"unparsed field {part!r} in {line!r}"
            name, number, repeated, type_, oneof = match.groups()
            fields.append(ApiField(message, name, int(number), bool(repeated), type_, oneof))
    return messages, rpcs


API_MESSAGES, API_RPCS = _parse_fields_txt()


def _api_type_matches(field: FieldDescriptor, expected: str) -> bool:
    actual = _type_name(field)
    if field.type in SCALARS:
        return actual == expected
    if "." in expected:
        return actual == "xmtp." + expected
    # Enums are listed by their short name only.
    return actual.rsplit(".", 1)[-1] == expected


def test_fields_txt_was_parsed() -> None:
    assert len(API_MESSAGES) > 60
    assert sum(len(f) for f in API_MESSAGES.values()) > 150
    assert len(API_RPCS) == 19


@pytest.mark.parametrize("message", sorted(API_MESSAGES))
def test_node_api_message_matches_reference(message: str) -> None:
    descriptor = _message(message)
    expected = API_MESSAGES[message]
    assert sorted(f.name for f in descriptor.fields) == sorted(f.name for f in expected)
    for spec in expected:
        field = descriptor.fields_by_name[spec.name]
        assert field.number == spec.number, spec
        assert field.is_repeated == spec.repeated, spec
        assert _api_type_matches(field, spec.type), (spec, _type_name(field))
        oneof = field.containing_oneof
        assert (oneof.name if oneof else None) == spec.oneof, spec


def _service(full_name: str) -> ServiceDescriptor:
    try:
        return POOL.FindServiceByName(full_name)
    except KeyError:
        pytest.fail(f"service {full_name} is missing")


@pytest.mark.parametrize("rpc", API_RPCS, ids=lambda r: f"{r.service}.{r.name}")
def test_service_method_matches_reference(rpc: ApiRpc) -> None:
    service = _service(rpc.service)
    package = rpc.service.rsplit(".", 1)[0]
    method = service.methods_by_name[rpc.name]

    def qualify(name: str) -> str:
        return name if name.startswith("google.") else f"{package}.{name}"

    assert method.input_type.full_name == qualify(rpc.request)
    assert method.output_type.full_name == qualify(rpc.response)
    assert method.client_streaming == rpc.client_streaming
    assert method.server_streaming == rpc.server_streaming


def test_services_have_no_extra_methods() -> None:
    for service_name in {r.service for r in API_RPCS}:
        listed = {r.name for r in API_RPCS if r.service == service_name}
        assert set(_service(service_name).methods_by_name) == listed


def test_grpc_method_paths_use_xmtp_packages() -> None:
    from xmtp_core.protos.identity.api.v1 import identity_pb2_grpc
    from xmtp_core.protos.mls.api.v1 import mls_pb2_grpc

    seen: list[str] = []

    class Recorder:
        def __getattr__(self, kind: str) -> object:
            def record(path: str, **_: object) -> None:
                seen.append(path)

            return record

    mls_pb2_grpc.MlsApiStub(Recorder())
    identity_pb2_grpc.IdentityApiStub(Recorder())
    assert "/xmtp.mls.api.v1.MlsApi/Subscribe" in seen
    assert "/xmtp.mls.api.v1.MlsApi/SendGroupMessages" in seen
    assert "/xmtp.identity.api.v1.IdentityApi/GetInboxIds" in seen
    assert len(seen) == len(API_RPCS)


# ---------------------------------------------------------------------------------------------------------
# xmtp-protos.md: "=== file F (package P)", "message M", "    N name: [repeated ]type [optional] [(oneof X)]",
# "enum E: A=0, ...", "(map entry XEntry: K -> V)".


@dataclass(frozen=True)
class MdField:
    message: str
    name: str
    number: int
    repeated: bool
    type: str
    optional: bool
    oneof: str | None


@dataclass(frozen=True)
class MdMapEntry:
    message: str
    entry: str
    key: str
    value: str


MD_FIELD_RE = re.compile(r"^(\d+) (\w+): (repeated )?(\S+)( optional)?(?: \(oneof (\w+)\))?$")
MD_MAP_RE = re.compile(r"^\(map entry (\w+): (\S+) -> (\S+)\)$")
MD_FILE_RE = re.compile(r"^=== file (\S+) \(package ([\w.]+)\)$")


@dataclass
class MdTables:
    files: dict[str, str]  # message or enum full name -> reference file name
    fields: dict[str, list[MdField]]
    enums: dict[str, dict[str, int]]
    maps: list[MdMapEntry]


def _parse_protos_md() -> MdTables:
    tables = MdTables({}, {}, {}, [])
    package = file = message = None
    in_block = False
    for raw in PROTOS_MD.read_text().splitlines():
        line = raw.strip()
        if line.startswith("```"):
            in_block = not in_block
            package = message = None
        elif not in_block or not line:
            continue
        elif match := MD_FILE_RE.match(line):
            file, package = match.groups()
            message = None
        elif line.startswith("message "):
            message = f"{package}.{line.removeprefix('message ')}"
            tables.fields[message] = []
            tables.files[message] = file or ""
        elif line.startswith("enum "):
            name, _, values = line.removeprefix("enum ").partition(": ")
            full = f"{package}.{name}"
            tables.enums[full] = {k: int(v) for k, v in (item.split("=") for item in values.split(", "))}
            tables.files[full] = file or ""
        elif match := MD_MAP_RE.match(line):
            assert message is not None
            tables.maps.append(MdMapEntry(message, *match.groups()))
        elif match := MD_FIELD_RE.match(line):
            assert message is not None, line
            number, name, repeated, type_, optional, oneof = match.groups()
            tables.fields[message].append(
                MdField(message, name, int(number), bool(repeated), type_, bool(optional), oneof)
            )
        else:
            pytest.fail(f"unparsed reference line: {line!r}")
    return tables


MD = _parse_protos_md()


def test_protos_md_was_parsed() -> None:
    assert len(MD.fields) > 100
    assert len(MD.enums) >= 15
    assert len(MD.maps) >= 6


@pytest.mark.parametrize("message", sorted(MD.fields))
def test_message_matches_protos_md(message: str) -> None:
    descriptor = _message(message)
    expected = MD.fields[message]
    assert sorted(f.name for f in descriptor.fields) == sorted(f.name for f in expected)
    for spec in expected:
        field = descriptor.fields_by_name[spec.name]
        assert field.number == spec.number, spec
        assert field.is_repeated == spec.repeated, spec
        assert _type_name(field) == spec.type, (spec, _type_name(field))
        oneof = field.containing_oneof
        if spec.optional:
            # proto3 `optional` is a synthetic one-member oneof named "_<field>".
            assert oneof is not None and oneof.name == f"_{spec.name}", spec
            assert field.has_presence, spec
        else:
            assert (oneof.name if oneof else None) == spec.oneof, spec


def test_messages_live_in_the_reference_file_layout() -> None:
    for full_name, ref_file in MD.files.items():
        descriptor = _enum(full_name) if full_name in MD.enums else _message(full_name)
        actual = descriptor.file.name
        assert actual == f"xmtp_core/protos/{ref_file}", full_name


@pytest.mark.parametrize("enum", sorted(MD.enums))
def test_enum_matches_protos_md(enum: str) -> None:
    descriptor = _enum(enum)
    assert {v.name: v.number for v in descriptor.values} == MD.enums[enum]


@pytest.mark.parametrize("entry", MD.maps, ids=lambda e: f"{e.message}.{e.entry}")
def test_map_fields_match_protos_md(entry: MdMapEntry) -> None:
    descriptor = _message(entry.message)
    nested = descriptor.nested_types_by_name[entry.entry]
    assert nested.GetOptions().map_entry
    key, value = nested.fields_by_name["key"], nested.fields_by_name["value"]

    def wire(field: FieldDescriptor, spec: str) -> bool:
        if spec.startswith("."):
            return _type_name(field) == spec[1:]
        return field.type == int(spec)

    assert wire(key, entry.key), entry
    assert wire(value, entry.value), entry


# ---------------------------------------------------------------------------------------------------------
# Round trips with hand-computed wire bytes.


def test_group_message_input_wire_bytes() -> None:
    msg = mls_pb2.GroupMessageInput(v1=mls_pb2.GroupMessageInput.V1(data=b"\x01", should_push=True))
    encoded = msg.SerializeToString()
    # outer field 1 (len 5) -> V1 { field 1 bytes [0x01], field 3 varint 1 }
    assert encoded == bytes.fromhex("0a050a01011801")
    assert mls_pb2.GroupMessageInput.FromString(encoded) == msg


def test_encoded_content_compression_presence_survives_round_trip() -> None:
    content = content_pb2.EncodedContent(
        type=content_pb2.ContentTypeId(authority_id="xmtp.org", type_id="text", version_major=1),
        content=b"hi",
        compression=content_pb2.COMPRESSION_DEFLATE,
    )
    encoded = content.SerializeToString()
    # DEFLATE is 0, yet field 5 must still be written because it is explicitly present.
    # ... field 4 "hi" (22 02 68 69), then field 5 varint 0 (28 00).
    assert encoded.endswith(bytes.fromhex("220268692800"))
    decoded = content_pb2.EncodedContent.FromString(encoded)
    assert decoded.HasField("compression")
    assert decoded.compression == content_pb2.COMPRESSION_DEFLATE
    plain = content_pb2.EncodedContent.FromString(content_pb2.EncodedContent(content=b"x").SerializeToString())
    assert not plain.HasField("compression")


def test_subscribe_request_round_trip() -> None:
    sub = mls_pb2.SubscribeRequest.V1.Mutate.Subscription(topic=b"g\x00", id_cursor=42)
    req = mls_pb2.SubscribeRequest(
        v1=mls_pb2.SubscribeRequest.V1(mutate=mls_pb2.SubscribeRequest.V1.Mutate(adds=[sub], mutate_id=7))
    )
    decoded = mls_pb2.SubscribeRequest.FromString(req.SerializeToString())
    assert decoded.v1.WhichOneof("request") == "mutate"
    assert decoded.v1.mutate.adds[0].id_cursor == 42
    assert decoded.v1.mutate.mutate_id == 7
