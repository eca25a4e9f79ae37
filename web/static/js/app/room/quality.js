// Connection quality from WebRTC statistics, as a three-step level a person can read at a
// glance (good / fair / poor, plus "no picture"). The thresholds follow what Jitsi's indicator
// uses in spirit: a few percent of loss is audible and visible, single-digit frame rates look
// frozen, half a second of round trip makes conversation hard.
//
// Exports:
//   QUALITY_LEVELS            ["good", "fair", "poor", "none"]
//   classifyInbound(prev, now, seconds)  level of a received video from two inboundStats samples
//   classifyUplink(stats)     level of what this client sends, from its peer connection stats

export const QUALITY_LEVELS = Object.freeze(["good", "fair", "poor", "none"]);

/** The level of a received stream between two samples of RtcClient.inboundStats(mid). */
export function classifyInbound(previous, current, seconds) {
  if (!current || !previous || seconds <= 0) return null;
  const frames = current.framesDecoded - previous.framesDecoded;
  const received = current.packetsReceived - previous.packetsReceived;
  const lost = Math.max(0, current.packetsLost - previous.packetsLost);
  if (frames <= 0) return { level: "none", fps: 0, lossPct: 0 };
  const fps = frames / seconds;
  const lossPct = received + lost > 0 ? (100 * lost) / (received + lost) : 0;
  let level = "good";
  if (lossPct >= 8 || fps < 5) level = "poor";
  else if (lossPct >= 2 || fps < 12) level = "fair";
  return { level, fps: Math.round(fps), lossPct: Math.round(lossPct * 10) / 10 };
}

/** The level of this client's own link, from RTCPeerConnection.getStats(). */
export function classifyUplink(report) {
  let rttMs = null;
  let lossFraction = 0;
  let limited = false;
  report.forEach((s) => {
    if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined) {
      rttMs = Math.round(s.currentRoundTripTime * 1000);
    }
    if (s.type === "remote-inbound-rtp" && typeof s.fractionLost === "number") {
      lossFraction = Math.max(lossFraction, s.fractionLost);
    }
    if (s.type === "outbound-rtp" && s.kind === "video" && s.qualityLimitationReason === "bandwidth") {
      limited = true;
    }
  });
  const lossPct = Math.round(lossFraction * 1000) / 10;
  let level = "good";
  if (lossPct >= 8 || (rttMs !== null && rttMs >= 500)) level = "poor";
  else if (lossPct >= 2 || limited || (rttMs !== null && rttMs >= 250)) level = "fair";
  return { level, rttMs, lossPct };
}
