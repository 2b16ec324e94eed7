"""All workers together stay under the configured rate toward the MLS (docs/reliability.md#j6-rate-limits)."""

import json
import multiprocessing
import os
import threading
import time
import uuid

import pytest
import redis

from spark.ratelimit import FileTokenBucket, RedisTokenBucket
from spark.tokens import RedisTokenStore, TokenSet

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield client
    client.close()


def max_in_window(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def acquire_in_threads(buckets: list, each: int) -> tuple[list[float], float]:
    """A thread per bucket object, each taking `each` tokens: (when each was taken, seconds)."""
    stamps: list[float] = []
    lock = threading.Lock()

    def worker(bucket):
        for _ in range(each):
            bucket.acquire(timeout=30)
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker, args=(bucket,)) for bucket in buckets]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stamps, time.monotonic() - started


def test_redis_bucket_holds_ten_threads_under_the_rate(redis_client):
    bucket = RedisTokenBucket(redis_client, rate=20, burst=2, key=f"test:rl:{uuid.uuid4().hex}")
    stamps, elapsed = acquire_in_threads([bucket] * 10, 6)
    assert len(stamps) == 60
    # 60 requests at 20/s with a burst of 2 need at least (60 - 2) / 20 = 2.9 s.
    assert elapsed >= 2.7, elapsed
    # No one-second window holds more than rate + burst (+1 for clock edges).
    assert max_in_window(stamps, 1.0) <= 23


def test_redis_pause_holds_every_caller(redis_client):
    bucket = RedisTokenBucket(redis_client, rate=100, key=f"test:rl:{uuid.uuid4().hex}")
    bucket.pause(0.6)
    started = time.monotonic()
    waited = bucket.acquire(timeout=5)
    assert time.monotonic() - started >= 0.5
    assert waited >= 0.5


def _take_many(path: str, count: int, queue) -> None:
    bucket = FileTokenBucket(path, rate=20, burst=2)
    for _ in range(count):
        bucket.acquire(timeout=30)
        queue.put(time.time())


def test_file_bucket_is_shared_across_processes(tmp_path):
    path = str(tmp_path / "bucket.json")
    queue = multiprocessing.get_context("fork").Queue()
    processes = [
        multiprocessing.get_context("fork").Process(target=_take_many, args=(path, 10, queue))
        for _ in range(4)
    ]
    started = time.time()
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    stamps = [queue.get(timeout=1) for _ in range(40)]
    assert time.time() - started >= (40 - 2) / 20 * 0.9
    assert max_in_window(stamps, 1.0) <= 23


def test_redis_token_store_shares_tokens_and_lock(redis_client):
    key = f"test:oauth:{uuid.uuid4().hex}"
    first, second = RedisTokenStore(redis_client, key=key), RedisTokenStore(redis_client, key=key)
    assert first.get() is None
    with first.lock():
        first.set(TokenSet("access-1", "refresh-1", time.time() + 3600))
    assert second.get().access_token == "access-1"
    acquired = []

    def contender():
        with second.lock():
            acquired.append(time.monotonic())

    with first.lock():
        thread = threading.Thread(target=contender)
        thread.start()
        time.sleep(0.3)
        released = time.monotonic()
    thread.join(5)
    assert acquired and acquired[0] >= released


def _bucket_tokens(client, bucket: RedisTokenBucket) -> float:
    return float(client.hget(bucket.key, "tokens"))


def test_at_a_high_rate_a_process_takes_a_few_tokens_per_trip_to_redis(redis_client):
    bucket = RedisTokenBucket(redis_client, rate=1000, burst=100, key=f"test:rl:{uuid.uuid4().hex}")
    assert bucket.batch == 8
    bucket.acquire()
    # Eight left the shared bucket at once (plus at most a few refilled meanwhile)...
    after_first = _bucket_tokens(redis_client, bucket)
    assert 92 <= after_first < 93
    for _ in range(7):
        assert bucket.acquire() == 0.0
    # ...and the next seven requests were served from them without asking Redis.
    assert _bucket_tokens(redis_client, bucket) == after_first
    bucket.acquire()
    assert _bucket_tokens(redis_client, bucket) < after_first


def test_at_the_mls_usual_rate_every_request_asks_the_bucket(redis_client):
    bucket = RedisTokenBucket(redis_client, rate=5, key=f"test:rl:{uuid.uuid4().hex}")
    assert bucket.batch == 1
    bucket.acquire()
    bucket.acquire()
    assert _bucket_tokens(redis_client, bucket) < 3.1


def test_a_pause_drops_the_tokens_this_process_holds(redis_client):
    bucket = RedisTokenBucket(redis_client, rate=1000, burst=100, key=f"test:rl:{uuid.uuid4().hex}")
    bucket.acquire()  # holds seven more
    bucket.pause(0.5)
    started = time.monotonic()
    bucket.acquire(timeout=5)
    assert time.monotonic() - started >= 0.4


def test_batched_tokens_keep_ten_threads_under_a_high_rate(redis_client):
    key = f"test:rl:{uuid.uuid4().hex}"
    # One bucket object per thread: each holds its own batch, as each worker process would.
    buckets = [RedisTokenBucket(redis_client, rate=300, burst=30, key=key) for _ in range(10)]
    assert buckets[0].batch == 3
    stamps, elapsed = acquire_in_threads(buckets, 60)
    assert len(stamps) == 600
    # 600 requests at 300/s with a burst of 30 need at least (600 - 30) / 300 = 1.9 s.
    assert elapsed >= 1.8, elapsed
    # No second holds more than rate + burst + the tokens ten holders may keep (+1 edges).
    assert max_in_window(stamps, 1.0) <= 300 + 30 + 10 * 2 + 1


def test_file_bucket_takes_a_few_tokens_per_lock_at_a_high_rate(tmp_path):
    path = tmp_path / "bucket.json"
    bucket = FileTokenBucket(path, rate=1000, burst=100)
    bucket.acquire()
    after_first = json.loads(path.read_text())["tokens"]
    assert 92 <= after_first < 93
    for _ in range(7):
        bucket.acquire()
    assert json.loads(path.read_text())["tokens"] == after_first
