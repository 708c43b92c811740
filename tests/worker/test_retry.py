"""Which errors are outages (retried at no cost), and the backoff that spans the horizon."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from pronscore.settings import Settings
from pronscore.storage import ObjectMissing, StorageError
from worker.retry import backoff_seconds, is_outage, max_retries


def _database_down() -> OperationalError:
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as error:
        return error
    raise AssertionError("port 1 answered")


def _s3_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


def test_store_database_and_broker_outages_are_retried_at_no_cost() -> None:
    assert is_outage(_database_down())
    assert is_outage(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert is_outage(StorageError("cannot reach the S3 endpoint"))
    assert is_outage(_s3_error(503, "SlowDown"))
    assert is_outage(BrokerError("Error 111 connecting to 127.0.0.1:6379"))
    wrapped = RuntimeError("while writing results")
    wrapped.__cause__ = _database_down()
    assert is_outage(wrapped), "the cause decides"


def test_faults_of_the_recording_or_the_worker_are_not_outages() -> None:
    assert not is_outage(ObjectMissing("s3://bucket/gone does not exist"))
    assert not is_outage(_s3_error(404, "NoSuchKey"))
    assert not is_outage(ValueError("a bug"))
    assert not is_outage(IntegrityError("INSERT", {}, Exception("duplicate key")))


def test_backoff_doubles_up_to_its_cap_and_the_retries_span_the_horizon() -> None:
    settings = Settings(retry_backoff_seconds=2, retry_backoff_max_seconds=300, retry_horizon_seconds=3600)
    assert [backoff_seconds(n, settings) for n in range(10)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    retries = max_retries(settings)
    assert sum(backoff_seconds(n, settings) for n in range(retries)) >= 3600
    assert sum(backoff_seconds(n, settings) for n in range(retries - 1)) < 3600
    assert retries == 19


@pytest.mark.parametrize("horizon", [0.5, 60.0])
def test_at_least_one_retry_fits_any_horizon(horizon: float) -> None:
    assert max_retries(Settings(retry_horizon_seconds=horizon)) >= 1
