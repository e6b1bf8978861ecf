from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MultiRemoteAttachment(_message.Message):
    __slots__ = ("attachments",)
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    attachments: _containers.RepeatedCompositeFieldContainer[RemoteAttachmentInfo]
    def __init__(self, attachments: _Optional[_Iterable[_Union[RemoteAttachmentInfo, _Mapping]]] = ...) -> None: ...

class RemoteAttachmentInfo(_message.Message):
    __slots__ = ("content_digest", "secret", "nonce", "salt", "scheme", "url", "content_length", "filename")
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    CONTENT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    content_digest: str
    secret: bytes
    nonce: bytes
    salt: bytes
    scheme: str
    url: str
    content_length: int
    filename: str
    def __init__(self, content_digest: _Optional[str] = ..., secret: _Optional[bytes] = ..., nonce: _Optional[bytes] = ..., salt: _Optional[bytes] = ..., scheme: _Optional[str] = ..., url: _Optional[str] = ..., content_length: _Optional[int] = ..., filename: _Optional[str] = ...) -> None: ...
