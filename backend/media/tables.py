"""Photos, stored once under their content hash (the media domain owns this module)."""

from piccolo.columns import JSON, DoublePrecision, ForeignKey, Integer, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.people.tables import User


class Media(Table, tablename="media"):
    """A stored photo: facts read from the original, and the derivatives made from it.

    The original itself is not kept (it carries EXIF, GPS and maker notes); only re-encoded
    derivatives without metadata are on disk, under media_dir/<aa>/<sha256>/<size>.jpg.
    """

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    sha256 = Varchar(length=64, unique=True, index=True)  # of the original bytes as uploaded
    uploaded_by = ForeignKey(
        references=User, null=True, default=None, on_delete=OnDelete.set_null, index=True
    )
    uploaded_at = Timestamptz(default=TimestamptzNow())
    mime = Varchar(length=32)  # of the original: image/jpeg | image/png | image/webp | image/heic
    # Upright size of the original (after its EXIF orientation is applied).
    width = Integer()
    height = Integer()
    size_bytes = Integer()  # size of the original upload
    orientation = Integer(default=1)  # the EXIF orientation (1-8) that was applied
    gps_lon = DoublePrecision(null=True, default=None)  # WGS-84 from EXIF, as the phone wrote it
    gps_lat = DoublePrecision(null=True, default=None)
    taken_at = Timestamptz(null=True, default=None)  # EXIF DateTimeOriginal (local time unless offset given)
    # {"thumb": {"width", "height", "bytes"}, "medium": {...}, "full": {...}}
    derivatives = JSON(default={})


class MediaUpload(Table, tablename="media_upload"):
    """An unfinished resumable upload of one photo by one user; the bytes are in media_dir/partial/.

    `bytes_received` is the committed offset: the partial file may hold more after a crash between
    the append and the commit, and is cut back to it before the next append.
    """

    id: Serial
    key = Varchar(length=80, unique=True)  # "<sha256>:<user id>", one upload per photo and user
    sha256 = Varchar(length=64, index=True)
    uploaded_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.cascade, index=True)
    total = Integer(null=True, default=None)  # expected size, once a Content-Range has said it
    bytes_received = Integer(default=0)
    started_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow(), index=True)


class MediaHolder(Table, tablename="media_holder"):
    """A user who has sent the server this photo's bytes, so holds the photo and may name it in a
    case, an agreement or a visit. The hash alone proves nothing (it is shown wherever the photo is
    used); the bytes do. Rows from before this table: `Media.uploaded_by` counts as a holder too."""

    id: Serial
    key = Varchar(length=80, unique=True)  # "<sha256>:<user id>"
    sha256 = Varchar(length=64, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    at = Timestamptz(default=TimestamptzNow())
