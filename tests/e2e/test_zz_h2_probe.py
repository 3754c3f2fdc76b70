import pytest
from tests.e2e.delivery_support import delivered, queue_test_notices, seed_recipients
from tests.e2e.test_delivery import engine_of, sandbox_options  # noqa: F401

@pytest.mark.parametrize("run", range(3))
async def test_probe(relais, run):
    engine = engine_of(relais)
    rs = await seed_recipients(relais.db, relais.sandbox, 400)
    await queue_test_notices(relais.db, rs, relais.clock.now())
    await engine.dispatch_once()
    got = delivered(relais.sandbox, rs)
    print(f"\nRUN rate={got.rate:.2f} maxwin={got.max_in_window(1.0)} 429={relais.sandbox.stats.flood_429} missing={len(got.missing)}")
