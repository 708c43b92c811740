"""Publishing a built site to an S3 prefix, for a static host or a bucket served to teachers."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from pronscore.storage import AudioStore, S3Uri, StorageError
from publishing.audio import AUDIO_FOLDER


def upload_site(store: AudioStore, folder: Path, prefix: S3Uri) -> int:
    """Upload every file of the site under `prefix` (pages replaced, audio, named by content,
    sent only when missing); returns the number of files sent."""
    sent = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        uri = S3Uri(prefix.bucket, f"{prefix.key.rstrip('/')}/{relative}")
        if relative.startswith(f"{AUDIO_FOLDER}/") and store.exists(uri):
            continue
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            store.client.put_object(Bucket=uri.bucket, Key=uri.key, Body=path.read_bytes(), ContentType=content_type)
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"could not upload {uri}: {error}") from None
        sent += 1
    return sent
