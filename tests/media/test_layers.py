"""Layer choice over time: hysteresis at thresholds, probing upward, back-off after failures."""

from media.feedback import BandwidthEstimate
from media.forwarding import LAYER_MIN_BITRATE, Consumer, Layer, Producer
from media.layers import MAX_BACKOFF_S, MIN_BACKOFF_S, PROBE_S, SETTLE_S, LayerSelector


def simulcast_producer(now_ms: int = 10_000, live: tuple[bool, ...] = (True, True, True)):
    producer = Producer("p", "video", layers=[Layer("q"), Layer("h"), Layer("f")])
    for layer, height, on in zip(producer.layers, (180, 360, 720), live, strict=True):
        layer.height = height
        layer.packets = 100 if on else 0
        layer.last_arrival_ms = now_ms
    return producer


def test_estimate_allowing_the_size_needs_no_probe():
    s = LayerSelector()
    assert s.choose(0.0, 2, 2, None, 0.0, 3_000_000) == 2
    assert s.probes == 0


def test_a_capped_consumer_probes_up_and_keeps_the_layer_when_the_estimate_follows():
    s = LayerSelector()
    # 180p, REMB ~1.5x of 150 kbps: held at layer 0 while its display wants layer 2.
    assert s.choose(0.0, 2, 0, 1, 0.0, 225_000) == 1  # probe the middle layer at once
    assert s.probing == 1
    assert s.choose(1.0, 2, 0, 1, 0.0, 240_000) == 1  # still probing, estimate rising
    assert s.choose(2.0, 2, 1, 2, 0.0, 300_000) == 1  # estimate reached layer 1: success
    assert s.probing is None
    assert s.choose(2.0 + SETTLE_S / 2, 2, 1, 2, 0.0, 400_000) == 1  # settling
    assert s.choose(2.0 + SETTLE_S, 2, 1, 2, 0.0, 700_000) == 2  # next probe: the top layer
    assert s.choose(5.0, 2, 2, None, 0.0, 1_200_000) == 2
    assert (s.probes, s.failed_probes, s.probing) == (2, 0, None)


def test_a_probe_that_causes_loss_falls_back_and_backs_off_exponentially():
    s = LayerSelector()
    now = 0.0
    assert s.choose(now, 2, 0, 1, 0.0, 225_000) == 1  # the first probe starts at once
    waits = []
    for _ in range(6):
        failed_at = now + 0.5
        assert s.choose(failed_at, 2, 0, 1, 0.2, 225_000) == 0  # 20 % loss: back down
        now = failed_at
        while s.choose(now, 2, 0, 1, 0.0, 225_000) == 0:  # the next probe, when allowed
            now += 0.25
        waits.append(now - failed_at)
    assert waits == [min(MIN_BACKOFF_S * 2**i, MAX_BACKOFF_S) for i in range(6)]  # 4 … 64 s
    assert s.failed_probes == 6


def test_a_probe_fails_when_the_estimate_falls_or_never_catches_up():
    s = LayerSelector()
    s.choose(0.0, 2, 0, 1, 0.0, 300_000)
    assert s.choose(1.0, 2, 0, 1, 0.0, 200_000) == 0  # REMB fell by a third
    assert s.failed_probes == 1
    t = 1.0 + MIN_BACKOFF_S
    assert s.choose(t, 2, 0, 1, 0.0, 200_000) == 1
    assert s.choose(t + PROBE_S - 0.1, 2, 0, 1, 0.0, 200_000) == 1
    assert s.choose(t + PROBE_S + 0.1, 2, 0, 1, 0.0, 200_000) == 0  # timed out
    assert s.failed_probes == 2


def test_no_probe_on_a_lossy_link_or_without_a_live_layer_above():
    s = LayerSelector()
    assert s.choose(0.0, 2, 0, 1, 0.05, 225_000) == 0
    assert s.choose(0.0, 2, 0, None, 0.0, 225_000) == 0
    assert s.probes == 0


def test_a_smaller_display_ends_a_probe_without_penalty():
    s = LayerSelector()
    s.choose(0.0, 2, 0, 1, 0.0, 225_000)
    assert s.choose(0.5, 0, 0, None, 0.0, 225_000) == 0
    assert (s.probing, s.failed_probes, s.backoff_s) == (None, 0, MIN_BACKOFF_S)


def test_layer_for_holds_the_current_layer_below_its_threshold():
    p = simulcast_producer()
    top = LAYER_MIN_BITRATE[2]
    assert p.layer_for(720, int(top * 0.9)) == 1  # not enough to move up to the top layer
    assert p.layer_for(720, int(top * 0.9), hold=2) == 2  # enough to stay there
    assert p.layer_for(720, int(top * 0.7), hold=2) == 1  # not enough to stay
    assert p.layer_for(360, 5_000_000, hold=2) == 1  # the display size still rules


def test_next_live_layer_skips_layers_that_are_not_sent():
    p = simulcast_producer(live=(True, False, True))
    assert p.next_live_layer(0, 2) == 2
    assert p.next_live_layer(0, 1) is None
    assert p.next_live_layer(2, 2) is None


def test_consumer_capped_by_remb_probes_up_to_the_displayed_size():
    """The end-to-end choice a consumer makes from REMBs, as the transport feeds them."""
    p = simulcast_producer()
    # No transport: nothing is forwarded here, only the choice is exercised.
    c = Consumer(transport=None, ssrc=1, kind="video", payload_types={"video/vp8": 96})  # type: ignore[arg-type]
    c.max_height = 720
    c.attach(p)
    assert c.target_layer == 2
    c.prefer(max_height=180, now=0.0)
    assert c.target_layer == 0
    # Receiving only 180p, the browser's REMB stays at ~1.5x of it.
    c.bandwidth.on_remb(225_000, now=0.5)
    c.on_bandwidth(now=0.5)
    c.prefer(max_height=720, now=1.0)
    assert c.target_layer == 1  # probing up
    # The browser's estimate follows the higher rate; the consumer ends on the top layer.
    t, remb = 1.0, 225_000
    while t < 30 and c.target_layer < 2:
        t += 1.0
        remb = int(remb * 1.3)
        c.bandwidth.on_remb(remb, now=t)
        c.bandwidth.on_loss(0, now=t)  # receiver reports: no loss, the estimate may climb
        c.on_bandwidth(now=t)
    assert c.target_layer == 2, (t, remb)
    assert c.selector.failed_probes == 0


def test_bandwidth_estimate_keeps_the_last_loss_fraction():
    e = BandwidthEstimate()
    e.on_loss(64, now=1.0)
    assert e.loss == 0.25


def test_a_probe_is_not_confirmed_by_the_keep_margin_alone():
    """At 360p the browser's REMB tops out near 750 kbps: enough to keep the top layer
    (75 % of 900 kbps) but not to enter it. A probe must wait for the full figure."""
    p = simulcast_producer()
    c = Consumer(transport=None, ssrc=1, kind="video", payload_types={"video/vp8": 96})  # type: ignore[arg-type]
    c.max_height = 360
    c.attach(p)
    c.bandwidth.on_remb(750_000, now=0.0)
    c.on_bandwidth(now=0.0)
    assert c.target_layer == 1
    c.prefer(max_height=720, now=0.0)
    assert (c.target_layer, c.selector.probing) == (2, 2)  # probing the top layer
    t = 0.0
    while t < PROBE_S - 1:
        t += 1.0
        c.bandwidth.on_remb(750_000, now=t)
        c.bandwidth.on_loss(0, now=t)
        c.on_bandwidth(now=t)
        assert c.selector.probing == 2, t  # not confirmed by the margin
    t = PROBE_S + 0.5
    c.bandwidth.on_remb(750_000, now=t)
    c.on_bandwidth(now=t)
    assert (c.target_layer, c.selector.failed_probes) == (1, 1)  # the estimate never followed
