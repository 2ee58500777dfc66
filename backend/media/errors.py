"""The media domain's errors, each with a stable code (see core.errors)."""

from __future__ import annotations

from backend.core.errors import AppError

MAX_MB = 15


class InvalidHash(AppError):
    status_code = 400
    code = "media.invalid_sha256"
    message = "照片标识无效，应为64位小写十六进制SHA-256"
    message_en = "The photo id must be a SHA-256 in 64 lowercase hex digits"


class HashMismatch(AppError):
    status_code = 400
    code = "media.hash_mismatch"
    message = "照片内容与标识不符，请重新上传"
    message_en = "The uploaded bytes do not match the SHA-256 in the URL"


class BadRange(AppError):
    status_code = 400
    code = "media.bad_range"
    message = "分段上传的范围无效"
    message_en = "The Content-Range of this chunk is invalid"


class BodyIncomplete(AppError):
    status_code = 400
    code = "media.incomplete_body"
    message = "上传中断，请重试"
    message_en = "The upload was interrupted before the body ended"


class UnknownSize(AppError):
    status_code = 400
    code = "media.unknown_size"
    message = "不支持的照片尺寸，应为 thumb、medium 或 full"
    message_en = "Unknown size; use thumb, medium or full"


class OffsetMismatch(AppError):
    status_code = 409
    code = "media.offset_mismatch"
    message = "分段位置与服务器已收到的字节数不符，请从服务器给出的位置继续"
    message_en = "The chunk does not start where the server's copy ends; continue from the given offset"

    def __init__(self, offset: int) -> None:
        super().__init__(details={"offset": offset}, headers={"Upload-Offset": str(offset)})


class TooLarge(AppError):
    status_code = 413
    code = "media.too_large"
    message = f"照片超过{MAX_MB}MB"
    message_en = f"The photo is larger than {MAX_MB} MB"


class UnsupportedType(AppError):
    status_code = 415
    code = "media.unsupported_type"
    message = "只支持JPEG、PNG、WebP格式的照片"
    message_en = "Only JPEG, PNG and WebP photos are accepted"


class Corrupt(AppError):
    status_code = 422
    code = "media.corrupt"
    message = "照片文件已损坏或不完整"
    message_en = "The photo is corrupt or truncated"


class TooManyPixels(AppError):
    status_code = 422
    code = "media.too_many_pixels"
    message = "照片像素过多"
    message_en = "The photo has too many pixels"


class PhotoNotUsable(AppError):
    """A hash the server holds, named by someone who never sent those bytes and sees nothing that
    uses them: knowing a hash is not holding the photo."""

    status_code = 400
    code = "media.photo_not_usable"
    message = "不能使用这张照片：它不是您上传的，也不属于您可查看的案件。请从本机重新选择并上传"
    message_en = "This photo was not uploaded by you and is not used by a case you may see"


class StorageUnavailable(AppError):
    """The media directory refused a write (read-only, full, missing): the server's fault, so the
    phone keeps the photo and sends it again later."""

    status_code = 503
    code = "media.storage_unavailable"
    message = "服务器暂时无法保存照片，照片仍保存在手机上，稍后会自动重传"
    message_en = "The server cannot store photos right now; the phone keeps it and retries later"

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "60"})


class TooManyPartialUploads(AppError):
    """A user's unfinished resumable uploads are capped (settings.media_max_partial_uploads): each
    holds up to 15 MB on the server's disk until it is finished or expires."""

    status_code = 429
    code = "media.too_many_partial_uploads"
    message = "未完成的照片上传过多，请先让已开始的照片传完，稍后会自动重试"
    message_en = "Too many unfinished photo uploads; finish those first, this one is retried later"

    def __init__(self, limit: int) -> None:
        super().__init__(details={"max": limit}, headers={"Retry-After": "300"})
