"""The audio store: S3 or any S3-compatible server, addressed by `s3://bucket/key` URIs.

Uploads are content-addressed (sha256), so the same audio is stored once however often it
is enqueued.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from pronscore.settings import Settings

_MISSING = {"404", "NoSuchKey", "NotFound"}
_CREDENTIALS = {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "403", "InvalidToken"}


class StorageError(RuntimeError):
    """The store could not be used: wrong credentials, unreachable endpoint, no bucket."""


class ObjectMissing(StorageError):
    """The object a recording points to does not exist."""


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        if not uri.startswith("s3://"):
            raise ValueError(f"not an s3:// URI: {uri!r}")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not bucket or not key:
            raise ValueError(f"an s3:// URI needs a bucket and a key: {uri!r}")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def content_key(sha256: str, suffix: str) -> str:
    return f"audio/{sha256[:2]}/{sha256}{suffix.lower()}"


class AudioStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def client(self) -> BaseClient:
        s = self.settings
        return boto3.client(
            "s3",
            endpoint_url=s.s3_endpoint_url or None,
            region_name=s.s3_region,
            aws_access_key_id=s.s3_access_key_id.get_secret_value() if s.s3_access_key_id else None,
            aws_secret_access_key=s.s3_secret_access_key.get_secret_value() if s.s3_secret_access_key else None,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if s.s3_path_style else "auto"},
                retries={"max_attempts": 5, "mode": "standard"},
                max_pool_connections=32,
            ),
        )

    def _explain(self, error: Exception, what: str) -> StorageError:
        if isinstance(error, EndpointConnectionError):
            return StorageError(f"cannot reach the S3 endpoint {self.settings.s3_endpoint_url} ({what})")
        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _CREDENTIALS:
                return StorageError(
                    f"the S3 server refused the credentials ({code}) while trying to {what}; "
                    "check PRONSCORE_S3_ACCESS_KEY_ID and PRONSCORE_S3_SECRET_ACCESS_KEY"
                )
            return StorageError(f"S3 error {code} while trying to {what}: {error}")
        return StorageError(f"{what} failed: {error}")

    def ensure_bucket(self) -> None:
        """Create the configured bucket if it is missing; fail clearly on bad credentials."""
        bucket = self.settings.s3_bucket
        try:
            self.client.head_bucket(Bucket=bucket)
            return
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) not in _MISSING:
                raise self._explain(error, f"open bucket {bucket}") from None
        except EndpointConnectionError as error:
            raise self._explain(error, f"open bucket {bucket}") from None
        try:
            self.client.create_bucket(Bucket=bucket)
        except (ClientError, EndpointConnectionError) as error:
            raise self._explain(error, f"create bucket {bucket}") from None

    def exists(self, uri: S3Uri) -> bool:
        try:
            self.client.head_object(Bucket=uri.bucket, Key=uri.key)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in _MISSING:
                return False
            raise self._explain(error, f"look up {uri}") from None
        except EndpointConnectionError as error:
            raise self._explain(error, f"look up {uri}") from None
        return True

    def put_if_absent(self, data: bytes, sha256: str, suffix: str) -> tuple[S3Uri, bool]:
        """Store `data` under its content key; returns the URI and whether it was uploaded now."""
        uri = S3Uri(self.settings.s3_bucket, content_key(sha256, suffix))
        if self.exists(uri):
            return uri, False
        try:
            self.client.put_object(Bucket=uri.bucket, Key=uri.key, Body=data)
        except (ClientError, EndpointConnectionError) as error:
            raise self._explain(error, f"upload {uri}") from None
        return uri, True

    def get(self, uri: S3Uri) -> bytes:
        try:
            return self.client.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code"))
            if code in _MISSING:
                raise ObjectMissing(f"{uri} does not exist") from None
            if code == "NoSuchBucket":
                raise ObjectMissing(f"{uri} does not exist: there is no bucket {uri.bucket}") from None
            raise self._explain(error, f"download {uri}") from None
        except EndpointConnectionError as error:
            raise self._explain(error, f"download {uri}") from None
