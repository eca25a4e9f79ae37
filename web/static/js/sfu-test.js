// The SFU test page's script (sfu-test.html); a file of its own: the CSP allows no inline
// script.
import { RtcClient } from "./rtc-client.js";

const videos = new Map();

function render(client) {
  const box = document.getElementById("slots");
  for (const slot of client.slotList()) {
    let element = videos.get(slot.mid);
    if (!element) {
      const track = client.trackFor(slot.mid);
      if (!track) continue;
      element = document.createElement(slot.kind === "video" ? "video" : "audio");
      element.autoplay = true;
      element.muted = true;
      element.playsInline = true;
      element.dataset.mid = slot.mid;
      element.srcObject = new MediaStream([track]);
      box.appendChild(element);
      videos.set(slot.mid, element);
    }
    element.title = `${slot.participant || "-"} ${slot.source || ""}`;
  }
}

window.startClient = async (options) => {
  const client = new RtcClient(options);
  window.client = client;
  window.clientErrors = [];
  client.addEventListener("slots", () => render(client));
  client.addEventListener("error", (e) => window.clientErrors.push(String(e.detail.error)));
  client.addEventListener("connection", (e) => {
    document.getElementById("status").textContent = e.detail.state;
  });
  await client.start();
  render(client);
  return { slots: client.slotList(), mids: client.published.map((p) => p.transceiver.mid) };
};

const query = new URLSearchParams(location.search);
if (query.get("token")) {
  window.startClient({
    token: query.get("token"),
    meetingId: Number(query.get("meeting")),
    simulcast: query.get("simulcast") === "1",
    videoCodec: query.get("codec") || undefined,
  });
}
