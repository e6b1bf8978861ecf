from xmtp_core.protos.mls.message_contents import content_pb2 as _content_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EditMessage(_message.Message):
    __slots__ = ("message_id", "edited_content")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EDITED_CONTENT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    edited_content: _content_pb2.EncodedContent
    def __init__(self, message_id: _Optional[str] = ..., edited_content: _Optional[_Union[_content_pb2.EncodedContent, _Mapping]] = ...) -> None: ...
