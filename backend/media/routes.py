"""HTTP routes of the media domain: photos stored once under their SHA-256, uploads that resume.

Protocol for the phone (all requests carry the bearer token; `<sha256>` is the SHA-256 of the
photo's bytes in 64 lowercase hex digits, computed on the phone before sending):

1. Ask first: `HEAD /api/media/<sha256>`.
   - 200 with `Upload-Complete: ?1` (and `X-Media-Status: complete`): this user sent the photo
     before, or may already see a case that uses it. Mark it sent; do not upload. (The answer is per
     user: a photo only a colleague sent is 404 here, and this phone sends its own bytes, which is
     what lets it name the photo in a case: see media.service.check_usable.)
   - 200 with `Upload-Complete: ?0` (`X-Media-Status: partial`): this user's upload was begun;
     `Upload-Offset: N` is how many bytes the server holds (also `Range: bytes=0-<N-1>` when N > 0)
     and `Upload-Length` the total if known. Continue from byte N.
   - 404: nothing held. Start from byte 0.
2. Send it whole: `PUT /api/media/<sha256>` with the raw bytes (any Content-Type; the type is read
   from the content). 201 = stored now; 200 = was already stored (same body: an identical resend
   is harmless). On a good link this is all there is.
3. Or send it in chunks (weak links; e.g. 64-256 KB on 2G): `PUT /api/media/<sha256>` with
   `Content-Range: bytes <start>-<end>/<total>` (end inclusive; total may be `*` until the last
   chunk, which must state it). Each chunk must start exactly at the server's offset:
   - 202 `{"status": "partial", "offset": N, "total": T}` and `Upload-Offset: N`: send the next.
   - 409 `media.offset_mismatch` with `{"offset": N}` and `Upload-Offset: N`: the server holds a
     different amount (an earlier answer was lost, or a chunk was cut off); continue from N.
   - The last chunk is answered like a whole upload (201/200, or the errors below) once the whole
     file has been checked against the hash. If the hash does not match, the partial upload is
     thrown away and the answer is 400 `media.hash_mismatch`: start again from 0.
   A chunk that was cut off mid-way is not kept; resend it. An unfinished upload is kept 31 days
   after its last chunk (the server's hourly job, service.purge_stale_uploads, forgets older ones).
   A user has at most FENGQIAO_MEDIA_MAX_PARTIAL_UPLOADS (30) unfinished uploads: the first chunk
   of one more is 429 `media.too_many_partial_uploads` (Retry-After); finish the others first.
4. Errors (JSON with `code`, `message`, `message_en`); nothing is stored on any of them:
   400 `media.invalid_sha256` | `media.hash_mismatch` | `media.bad_range` | `media.incomplete_body`
   (the connection dropped mid-body); 413 `media.too_large`
   (over 15 MB); 415 `media.unsupported_type` (not JPEG, PNG or WebP by content);
   422 `media.corrupt` (truncated or broken) | `media.too_many_pixels` (over 50 megapixels; JPEG ~89).
   415 and 422 are final: the same bytes will always be refused, so drop the photo from the outbox
   and tell the user. 401: refresh the token and retry; never drop the item.
5. View: `GET /api/media/<sha256>?size=thumb|medium|full` (320 / 1280 / 2560 px long edge, JPEG,
   upright, without any metadata) for users who sent the photo or may see a case using it; 404
   otherwise. Each view answered (200 or 304) is written to the audit log (`photo.read`), like a
   full read of personal data: a photo may show a party's face, house or papers.
   Cached for a year (`immutable`) with an ETag; `If-None-Match` answers 304.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar import Controller, Request, Response, get, head, put
from litestar.datastructures import ETag, State
from litestar.exceptions import InternalServerException
from litestar.params import FromPath, FromQuery
from litestar.response import File
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_202_ACCEPTED,
    HTTP_304_NOT_MODIFIED,
    HTTP_404_NOT_FOUND,
)

from backend.cases import privacy
from backend.cases.scope import photo_visible_to
from backend.core.identity import CurrentUser
from backend.media import schemas, service
from backend.media.errors import BodyIncomplete

_CACHE_FOREVER = "private, max-age=31536000, immutable"
_STATUS = {"created": HTTP_201_CREATED, "exists": HTTP_200_OK, "partial": HTTP_202_ACCEPTED}


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/").strip('"') for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; a phone dropping off mid-upload is a client error, not a 500."""
    try:
        async for part in request.stream():
            yield part
    except InternalServerException as exc:  # Litestar's "client disconnected prematurely"
        raise BodyIncomplete() from exc


class MediaController(Controller):
    path = "/api/media"
    tags = ["media"]

    @put("/{sha256:str}", operation_id="upload_media", status_code=HTTP_201_CREATED)
    async def upload_media(
        self, sha256: FromPath[str], request: Request[CurrentUser, object, State], state: State
    ) -> Response[schemas.MediaView | schemas.UploadProgress]:
        """Store a photo (raw bytes) under its SHA-256, whole or as one chunk of a resumable upload
        (Content-Range). 201 stored, 200 already stored, 202 chunk accepted. See the module notes."""
        result = await service.upload(
            media_dir=state.settings.media_dir,
            user_id=request.user.id,
            sha256=sha256,
            body=_body(request),
            content_length=request.content_length,
            content_range=request.headers.get("content-range"),
            max_partial=state.settings.media_max_partial_uploads,
        )
        return Response(
            result.body,
            status_code=_STATUS[result.outcome],
            headers={"Upload-Offset": str(result.offset), "Cache-Control": "no-store"},
        )

    @head("/{sha256:str}", operation_id="media_upload_state")
    async def media_upload_state(
        self, sha256: FromPath[str], request: Request[CurrentUser, object, State]
    ) -> Response[None]:
        """How much of this photo the server holds: complete, the offset of an unfinished upload, or 404."""
        upload = await service.upload_state(
            user=request.user, sha256=sha256, used_where_visible=photo_visible_to
        )
        if upload is None:
            return Response(None, status_code=HTTP_404_NOT_FOUND, headers={"Cache-Control": "no-store"})
        headers = {
            "Upload-Complete": "?1" if upload.status == "complete" else "?0",
            "Upload-Offset": str(upload.offset),
            "X-Media-Status": upload.status,
            "Cache-Control": "no-store",
        }
        if upload.total is not None:
            headers["Upload-Length"] = str(upload.total)
        if upload.status == "partial" and upload.offset > 0:
            headers["Range"] = f"bytes=0-{upload.offset - 1}"
        return Response(None, status_code=HTTP_200_OK, headers=headers)

    @get("/{sha256:str}", operation_id="get_media")
    async def get_media(
        self,
        sha256: FromPath[str],
        request: Request[CurrentUser, object, State],
        state: State,
        size: FromQuery[str] = "medium",
    ) -> Response:
        """One derivative of a photo (thumb 320, medium 1280, full 2560 px), for users who may see it."""
        served = await service.derivative_file(
            user=request.user,
            sha256=sha256,
            size=size,
            media_dir=state.settings.media_dir,
            used_where_visible=photo_visible_to,
        )
        await privacy.audit_photo_read(request.user, sha256, size)
        headers = {"Cache-Control": _CACHE_FOREVER}
        if _etag_matches(request.headers.get("if-none-match"), served.etag):
            return Response(
                None, status_code=HTTP_304_NOT_MODIFIED, headers={**headers, "ETag": f'"{served.etag}"'}
            )
        return File(
            path=served.path,
            media_type=served.mime,
            filename=f"{sha256}-{size}.jpg",
            content_disposition_type="inline",
            etag=ETag(value=served.etag),
            headers=headers,
        )


ROUTES: list = [MediaController]
