"""The Django side of the Spark client: configured from settings, with the portal's hooks."""

from mls import leased, remote


def test_the_client_factory_reads_the_spark_settings(settings):
    settings.SPARK_API_URL = "http://example.invalid/sandbox"
    settings.SPARK_ACCESS_TOKEN = "tok"
    settings.SPARK_CLIENT_ID = "cid"
    settings.SPARK_CLIENT_SECRET = "sec"
    settings.SPARK_REFRESH_TOKEN = "ref"
    settings.SPARK_USER_AGENT = "Agent/1"
    settings.SPARK_CONNECT_TIMEOUT = 1.5
    settings.SPARK_READ_TIMEOUT = 7
    client = remote.client_from_settings(read_timeout=3.0)
    assert client.base_url == "http://example.invalid/sandbox"
    assert client.connect_timeout == 1.5 and client.read_timeout == 3.0
    assert client.token_store.get().access_token == "tok"
    assert client.can_refresh
    assert client.session.headers["X-SparkApi-User-Agent"] == "Agent/1"


def test_every_request_of_the_shared_client_waits_for_the_rate_limit_and_renews_the_lease(settings, tmp_path):
    """The hooks are passed in explicitly (spark/ imports nothing of Django or of the portal)."""
    settings.VAR_DIR = tmp_path
    settings.SYNC_REDIS_URL = ""
    client = remote.client()
    assert client.before_request is remote.wait_for_rate_limit_and_renew_lease
    assert client.after_request is leased.log_exchange
