// The browser side of phonghop's SFU protocol (see the "SFU protocol" notes in the docs):
// one socket.io connection, one RTCPeerConnection to the SFU, and this client is ALWAYS the
// offerer. It publishes the microphone and the camera on sendonly transceivers (the camera
// optionally with three simulcast layers, lowest first, or with a preferred codec), receives
// on recvonly "slots" whose content the server assigns and announces (media.slots), grows
// its slots when asked (rtc.renegotiate), and tells the server how tall it shows each slot
// (media.view) so the SFU can pick a simulcast layer.
//
// Usage:
//   import { RtcClient } from "/static/js/rtc-client.js";
//   const client = new RtcClient({ token, meetingId, simulcast: true });
//   client.addEventListener("slots", (e) => render(e.detail.slots));
//   await client.start();               // connect, join, publish, first negotiation
//   client.trackFor(mid);               // the MediaStreamTrack received on a slot
//   await client.view(mid, 180);        // ask for the layer that fits 180 px
//
// Events (EventTarget, CustomEvent.detail):
//   "slots" {slots}                 the slot table changed (ack of an offer or media.slots)
//   "speaker" {participant}         speaker.active
//   "spotlight" {participant}       media.spotlight (chair's choice, null: the chair again)
//   "negotiated" {slots}            one offer/answer round finished
//   "connection" {state}            the peer connection's state
//   "socket" {state, reason?}       socket.io connected / disconnected / reconnected
//   "joined" {ack, again}           the join ack (meeting, self, participants, actions...);
//                                   again: after a reconnect
//   "media" {state}                 "restarting" (a new transport after ICE failed) / "restored"
//   "error" {error, during}         a negotiation or an event handler failed
//   "local" {microphone, camera, screen}  what this client sends changed (booleans)
//
// Recovery: a new socket.io session (the old one dropped) joins again and publishes on a fresh
// peer connection; an ICE failure with the socket still up does the same without re-joining.
// This is the effect of an ICE restart, done as a new transport because aiortc, the SFU's
// WebRTC stack, does not implement ICE restarts (RFC 8445 §9) on an existing connection.

import { io } from "/static/vendor/socket.io.esm.min.js";

export const SIMULCAST_ENCODINGS = Object.freeze([
  // Lowest first: the SFU numbers layers in a=simulcast order (layer 0 = lowest).
  Object.freeze({ rid: "l", scaleResolutionDownBy: 4 }),
  Object.freeze({ rid: "m", scaleResolutionDownBy: 2 }),
  Object.freeze({ rid: "h" }),
]);

const DEFAULT_ACK_TIMEOUT_MS = 20000;

export class SfuError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = "SfuError";
    this.code = code;
  }
}

function fmtpMatches(codec, wanted) {
  if (!wanted) return true;
  const have = new Map(
    (codec.sdpFmtpLine || "").split(";").map((item) => {
      const [name, value = ""] = item.trim().split("=");
      return [name.toLowerCase(), value.toLowerCase()];
    }),
  );
  return Object.entries(wanted).every(
    ([name, value]) => have.get(name.toLowerCase()) === String(value).toLowerCase(),
  );
}

export class RtcClient extends EventTarget {
  /**
   * @param {object} options
   * @param {string} options.token           account or endpoint token (socket.io auth)
   * @param {number} options.meetingId
   * @param {string} [options.url]           server base URL (default: this page's origin)
   * @param {RTCIceServer[]} [options.iceServers]
   * @param {boolean} [options.audio=true]   publish the microphone
   * @param {boolean} [options.video=true]   publish the camera
   * @param {MediaStream} [options.stream]   publish these tracks instead of getUserMedia
   * @param {MediaStreamConstraints} [options.constraints]
   * @param {boolean} [options.simulcast=false] camera with SIMULCAST_ENCODINGS
   * @param {RTCRtpEncodingParameters[]} [options.encodings] custom simulcast ladder, lowest first
   * @param {string} [options.videoCodec]    preferred mime type, e.g. "video/H264"
   * @param {object} [options.videoCodecFmtp] fmtp parameters the codec must have
   *                                          ({"profile-level-id": "42e01f", "packetization-mode": "1"})
   * @param {boolean} [options.videoCodecOnly=false] offer only that codec (and its RTX)
   * @param {{start?:number, min?:number, max?:number}} [options.videoBitrates] kbps hints for
   *                                          Chromium's sender (x-google-*-bitrate on the answer)
   * @param {{audio:number, video:number}} [options.slots] recvonly slots in the first offer
   * @param {number} [options.ackTimeoutMs]
   */
  constructor(options) {
    super();
    this.options = {
      url: globalThis.location ? globalThis.location.origin : undefined,
      iceServers: [],
      audio: true,
      video: true,
      simulcast: false,
      videoCodecOnly: false,
      slots: { audio: 0, video: 0 },
      ackTimeoutMs: DEFAULT_ACK_TIMEOUT_MS,
      ...options,
    };
    this.meetingId = this.options.meetingId;
    this.socket = null;
    this.pc = null;
    this.localStream = null;
    this.slots = new Map(); // mid → {mid, kind, producer_id, participant, source}
    this.published = []; // [{source, transceiver}]
    this.speaker = null;
    this.spotlight = null;
    this.negotiations = 0;
    this.renegotiations = 0;
    this._queue = Promise.resolve(); // one negotiation at a time
    this._pendingCandidates = [];
    this._sfuReady = false; // the SFU has our transport: candidates can go
    this._views = new Map(); // mid → max_height last asked (re-sent after a reconnect)
    this._closed = false;
    this._joinedOnce = false;
    this.joinInfo = null; // the last join ack
    this._restartTimer = null;
    this._restarting = false;
    this.screenTrack = null; // the shared screen, while sharing
  }

  // ---- life cycle --------------------------------------------------------------------

  /** Connect, join the meeting, publish and negotiate; resolves once media is negotiated. */
  async start() {
    await this.connect();
    await this.join();
    await this.publish();
    await this.negotiate();
    return this;
  }

  /** The socket.io connection (websocket only: sticky sessions are not needed). */
  connect() {
    if (this.socket) return Promise.resolve(this.socket);
    const socket = io(this.options.url, {
      auth: { token: this.options.token },
      transports: ["websocket"],
      reconnection: true,
    });
    this.socket = socket;
    socket.on("rtc.renegotiate", (data) => this._onRenegotiate(data));
    socket.on("media.slots", (data) => this._onSlots(data));
    socket.on("speaker.active", (data) => this._onSpeaker(data));
    socket.on("media.spotlight", (data) => this._onSpotlight(data));
    socket.on("disconnect", (reason) => this._emit("socket", { state: "disconnected", reason }));
    socket.on("connect", () => {
      if (this._joinedOnce) this._resume();
    });
    return new Promise((resolve, reject) => {
      const ok = () => {
        socket.off("connect_error", fail);
        this._emit("socket", { state: "connected" });
        resolve(socket);
      };
      const fail = (err) => {
        socket.off("connect", ok);
        socket.disconnect();
        this.socket = null;
        reject(err);
      };
      socket.once("connect", ok);
      socket.once("connect_error", fail);
    });
  }

  async join() {
    const ack = await this._call("join", { meeting_id: this.meetingId });
    const again = this._joinedOnce;
    this.joinInfo = ack;
    this._joinedOnce = true;
    this._emit("joined", { ack, again });
    return ack;
  }

  /** Stop everything: the peer connection, the local tracks we captured, the socket. */
  async close() {
    this._closed = true;
    clearTimeout(this._restartTimer);
    if (this.screenTrack) this.screenTrack.stop();
    this.screenTrack = null;
    if (this.pc) this.pc.close();
    this.pc = null;
    if (this.localStream && !this.options.stream) {
      for (const track of this.localStream.getTracks()) track.stop();
    }
    if (this.socket) this.socket.disconnect();
    this.socket = null;
  }

  // ---- publishing --------------------------------------------------------------------

  /** Capture (unless a stream was given) and add the sendonly transceivers. */
  async publish() {
    const { audio, video } = this.options;
    if (!this.localStream) {
      if (this.options.stream) {
        this.localStream = this.options.stream;
      } else if (audio || video) {
        const constraints = this.options.constraints || {
          audio: audio,
          video: video ? { width: 1280, height: 720 } : false,
        };
        this.localStream = await navigator.mediaDevices.getUserMedia(constraints);
      } else {
        this.localStream = new MediaStream();
      }
    }
    this._ensurePeerConnection();
    if (this.published.length) return;
    const stream = this.localStream;
    const audioTrack = audio ? stream.getAudioTracks()[0] : null;
    const videoTrack = video ? stream.getVideoTracks()[0] : null;
    if (audioTrack) {
      const transceiver = this.pc.addTransceiver(audioTrack, {
        direction: "sendonly",
        streams: [stream],
      });
      this.published.push({ source: "microphone", transceiver });
    }
    if (videoTrack) {
      const init = { direction: "sendonly", streams: [stream] };
      if (this.options.simulcast) {
        init.sendEncodings = (this.options.encodings || SIMULCAST_ENCODINGS).map((e) => ({ ...e }));
      }
      const transceiver = this.pc.addTransceiver(videoTrack, init);
      this._preferCodec(transceiver);
      this.published.push({ source: "camera", transceiver });
    }
    if (this.screenTrack && this.screenTrack.readyState === "live") {
      this._addScreenTransceiver(); // a share in progress survives a new peer connection
    }
  }

  // ---- what we send ------------------------------------------------------------------

  /** Whether the microphone / camera track is sending (false: muted / camera off). */
  sending(source) {
    if (source === "screen") return this.screenTrack !== null;
    const track = this.localTrack(source);
    return Boolean(track && track.enabled && track.readyState === "live");
  }

  /** The local microphone or camera track (null if none was captured). */
  localTrack(source) {
    if (!this.localStream) return null;
    const tracks =
      source === "microphone" ? this.localStream.getAudioTracks() : this.localStream.getVideoTracks();
    return tracks[0] || null;
  }

  /** Mute or unmute the microphone (a disabled track sends silence: no renegotiation). */
  setMicrophone(on) {
    const track = this.localTrack("microphone");
    if (track) track.enabled = Boolean(on);
    this._emitLocal();
    return Boolean(track);
  }

  /** Turn the camera picture on or off (a disabled track sends black frames at a trickle). */
  setCamera(on) {
    const track = this.localTrack("camera");
    if (track) track.enabled = Boolean(on);
    this._emitLocal();
    return Boolean(track);
  }

  /** Share a screen (getDisplayMedia unless a track is given) as a third, "screen" producer. */
  async startScreenShare(track = null) {
    if (this.screenTrack) return this.screenTrack;
    const shared =
      track || (await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }))
        .getVideoTracks()[0];
    this.screenTrack = shared;
    // The browser's own "Stop sharing" button ends the track.
    shared.addEventListener("ended", () => this.stopScreenShare().catch(() => {}), { once: true });
    await this._serial(async () => {
      await this._addScreenTransceiver(); // reusing the m-section: its track is set first
      return this._negotiate();
    });
    this._emitLocal();
    return shared;
  }

  /** End the share: the m-section goes inactive (kept for the next share), the SFU drops it. */
  async stopScreenShare() {
    const track = this.screenTrack;
    if (!track) return;
    this.screenTrack = null;
    track.stop();
    const entry = this.published.find((p) => p.source === "screen");
    if (entry) {
      await this._serial(async () => {
        await entry.transceiver.sender.replaceTrack(null);
        entry.transceiver.direction = "inactive";
        return this._negotiate();
      });
    }
    this._emitLocal();
  }

  _addScreenTransceiver() {
    const entry = this.published.find((p) => p.source === "screen");
    if (entry) {
      entry.transceiver.direction = "sendonly";
      return entry.transceiver.sender.replaceTrack(this.screenTrack);
    }
    const transceiver = this.pc.addTransceiver(this.screenTrack, { direction: "sendonly" });
    this.published.push({ source: "screen", transceiver });
    return Promise.resolve();
  }

  _emitLocal() {
    this._emit("local", {
      microphone: this.sending("microphone"),
      camera: this.sending("camera"),
      screen: this.sending("screen"),
    });
  }

  _preferCodec(transceiver) {
    const mime = this.options.videoCodec;
    if (!mime || typeof transceiver.setCodecPreferences !== "function") return;
    const capabilities = RTCRtpReceiver.getCapabilities("video");
    if (!capabilities) return;
    const wanted = mime.toLowerCase();
    const preferred = capabilities.codecs.filter(
      (c) => c.mimeType.toLowerCase() === wanted && fmtpMatches(c, this.options.videoCodecFmtp),
    );
    if (!preferred.length) throw new SfuError("codec_unavailable", `this browser has no ${mime}`);
    const rest = capabilities.codecs.filter((c) => !preferred.includes(c));
    const codecs = this.options.videoCodecOnly
      ? [...preferred, ...rest.filter((c) => c.mimeType.toLowerCase() === "video/rtx").slice(0, 1)]
      : [...preferred, ...rest];
    transceiver.setCodecPreferences(codecs);
  }

  // ---- negotiation -------------------------------------------------------------------

  /** Queue one offer/answer round with the SFU (rounds never overlap). */
  negotiate() {
    return this._serial(() => this._negotiate());
  }

  _serial(task) {
    const run = this._queue.then(task);
    // The queue goes on after a failed round; the caller still sees the failure.
    this._queue = run.catch((error) => this._emit("error", { error, during: "negotiation" }));
    return run;
  }

  async _negotiate(restart = false) {
    const pc = this._ensurePeerConnection();
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const sources = {};
    for (const { source, transceiver } of this.published) {
      if (transceiver.mid !== null && !transceiver.stopped && transceiver.direction !== "inactive") {
        sources[transceiver.mid] = source;
      }
    }
    let ack;
    try {
      ack = await this._call("rtc.offer", {
        meeting_id: this.meetingId,
        type: "offer",
        sdp: pc.localDescription.sdp,
        sources,
        restart,
      });
    } catch (error) {
      if (pc.signalingState === "have-local-offer") {
        await pc.setLocalDescription({ type: "rollback" });
      }
      throw error;
    }
    await pc.setRemoteDescription({ type: "answer", sdp: this._withBitrates(ack.sdp) });
    this.negotiations += 1;
    this._sfuReady = true;
    this._flushCandidates();
    this._setSlots(ack.slots || []);
    this._emit("negotiated", { slots: this.slotList() });
    return ack;
  }

  // x-google-{start,min,max}-bitrate on the answer's video codecs (kbps), as mediasoup-client's
  // codecOptions do: Chromium's sender reads them from the remote description.
  _withBitrates(sdp) {
    const wanted = this.options.videoBitrates;
    if (!wanted) return sdp;
    const extra = ["start", "min", "max"]
      .filter((name) => wanted[name])
      .map((name) => `x-google-${name}-bitrate=${Math.round(wanted[name])}`)
      .join(";");
    if (!extra) return sdp;
    const lines = sdp.split("\r\n");
    const out = [];
    let video = false;
    let codecs = new Map(); // payload type → has fmtp
    const flush = () => {
      for (const [pt, hasFmtp] of codecs) if (!hasFmtp) out.push(`a=fmtp:${pt} ${extra}`);
      codecs = new Map();
    };
    for (const line of lines) {
      if (line.startsWith("m=")) {
        if (video) flush();
        video = line.startsWith("m=video");
      }
      if (video && line.startsWith("a=rtpmap:")) {
        const [pt, name] = line.slice(9).split(" ");
        if (!/^(rtx|red|ulpfec|flexfec-03)\//i.test(name)) codecs.set(pt, false);
      }
      if (video && line.startsWith("a=fmtp:")) {
        const pt = line.slice(7).split(" ")[0];
        if (codecs.has(pt)) {
          codecs.set(pt, true);
          out.push(`${line};${extra}`);
          continue;
        }
      }
      if (line === "" && video) flush();
      out.push(line);
    }
    return out.join("\r\n");
  }

  _ensurePeerConnection() {
    if (this.pc) return this.pc;
    const pc = new RTCPeerConnection({
      iceServers: this.options.iceServers,
      bundlePolicy: "max-bundle",
      rtcpMuxPolicy: "require",
    });
    pc.addEventListener("icecandidate", (event) => {
      if (!event.candidate || !event.candidate.candidate) return; // end of gathering
      const payload = {
        meeting_id: this.meetingId,
        candidate: event.candidate.candidate,
        sdpMid: event.candidate.sdpMid,
        sdpMLineIndex: event.candidate.sdpMLineIndex,
      };
      if (this._sfuReady) this._sendCandidate(payload);
      else this._pendingCandidates.push(payload);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.pc) return; // an old connection closing after a restart
      this._emit("connection", { state: pc.connectionState });
      this._watchConnection(pc.connectionState);
    });
    this.pc = pc;
    return pc;
  }

  _flushCandidates() {
    const pending = this._pendingCandidates;
    this._pendingCandidates = [];
    for (const payload of pending) this._sendCandidate(payload);
  }

  _sendCandidate(payload) {
    this._call("rtc.candidate", payload).catch((error) =>
      this._emit("error", { error, during: "rtc.candidate" }),
    );
  }

  /** Add recvonly transceivers until there are ``audio`` and ``video`` of them. */
  addSlots(audio, video) {
    const pc = this._ensurePeerConnection();
    const have = { audio: 0, video: 0 };
    for (const t of pc.getTransceivers()) {
      if (t.direction === "recvonly" && !t.stopped) {
        have[t.receiver.track.kind] += 1;
      }
    }
    for (const [kind, wanted] of [
      ["audio", audio],
      ["video", video],
    ]) {
      for (let i = have[kind]; i < wanted; i += 1) pc.addTransceiver(kind, { direction: "recvonly" });
    }
  }

  _onRenegotiate(data) {
    if (data.meeting_id !== this.meetingId) return;
    this.renegotiations += 1;
    this._serial(async () => {
      this.addSlots(data.audio, data.video);
      return this._negotiate();
    }).catch(() => {}); // reported through the "error" event
  }

  _watchConnection(state) {
    clearTimeout(this._restartTimer);
    this._restartTimer = null;
    if (state === "failed") {
      this._restartMedia();
    } else if (state === "disconnected") {
      // Often a short loss that ICE recovers from by itself; restart if it does not.
      this._restartTimer = setTimeout(() => this._restartMedia(), this.options.iceGraceMs ?? 5000);
    }
  }

  /** A new peer connection with the same tracks, without re-joining (ICE failed). */
  async _restartMedia() {
    if (this._closed || this._restarting || !this.socket || !this.socket.connected) return;
    this._restarting = true;
    this._emit("media", { state: "restarting" });
    try {
      await this._serial(() => this._freshPeerConnection(true));
      await this._reapplyViews();
      this._emit("media", { state: "restored" });
    } catch (error) {
      this._emit("error", { error, during: "restart" });
    } finally {
      this._restarting = false;
    }
  }

  async _freshPeerConnection(restart = false) {
    const old = this.pc;
    this.pc = null;
    if (old) old.close();
    this.published = [];
    this.slots.clear();
    this._sfuReady = false;
    this._pendingCandidates = [];
    await this.publish();
    this.addSlots(this.options.slots.audio, this.options.slots.video);
    return this._negotiate(restart);
  }

  async _reapplyViews() {
    for (const [mid, height] of this._views) {
      if (this.slots.has(mid)) await this.view(mid, height);
    }
  }

  async _resume() {
    // A new socket.io session: the server dropped our transport with the old one. Join
    // again and publish the same tracks on a fresh peer connection.
    if (this._closed) return;
    try {
      this._emit("socket", { state: "reconnected" });
      await this.join();
      await this._serial(() => this._freshPeerConnection());
      await this._reapplyViews();
    } catch (error) {
      this._emit("error", { error, during: "resume" });
    }
  }

  // ---- slots -------------------------------------------------------------------------

  _onSlots(data) {
    if (data.meeting_id !== this.meetingId) return;
    this._setSlots(data.slots);
  }

  _setSlots(list) {
    this.slots = new Map(list.map((slot) => [slot.mid, slot]));
    this._emit("slots", { slots: this.slotList() });
  }

  slotList() {
    return [...this.slots.values()];
  }

  /** The mid of the slot showing ``participant``'s ``source``, or null. */
  showing(participant, source = "camera") {
    for (const slot of this.slots.values()) {
      if (slot.participant === participant && slot.source === source) return slot.mid;
    }
    return null;
  }

  transceiverFor(mid) {
    if (!this.pc) return null;
    return this.pc.getTransceivers().find((t) => t.mid === mid) || null;
  }

  /** The remote track received on slot ``mid`` (it stays the same as the content changes). */
  trackFor(mid) {
    const transceiver = this.transceiverFor(mid);
    return transceiver ? transceiver.receiver.track : null;
  }

  /** Ask for the layer that fits ``maxHeight`` pixels on slot ``mid`` (0: no limit). */
  async view(mid, maxHeight) {
    const height = Math.max(0, Math.min(4320, Math.round(maxHeight)));
    this._views.set(mid, height);
    return this._call("media.view", { meeting_id: this.meetingId, mid, max_height: height });
  }

  /** Chair only: show ``participant`` to everyone (null: the chair again). */
  setSpotlight(participant) {
    return this._call("media.spotlight", { meeting_id: this.meetingId, participant });
  }

  /** Chair only: which page of endpoint cameras the grid shows. */
  setPage(page) {
    return this._call("media.page", { meeting_id: this.meetingId, page });
  }

  _onSpeaker(data) {
    if (data.meeting_id !== undefined && data.meeting_id !== this.meetingId) return;
    this.speaker = data.participant;
    this._emit("speaker", { participant: data.participant });
  }

  _onSpotlight(data) {
    if (data.meeting_id !== this.meetingId) return;
    this.spotlight = data.participant;
    this._emit("spotlight", { participant: data.participant });
  }

  // ---- statistics --------------------------------------------------------------------

  /** Inbound RTP of slot ``mid``: frames, size, codec (null before anything arrived). */
  async inboundStats(mid) {
    const transceiver = this.transceiverFor(mid);
    if (!transceiver) return null;
    const report = await transceiver.receiver.getStats();
    let inbound = null;
    report.forEach((s) => {
      if (s.type === "inbound-rtp") inbound = s;
    });
    if (!inbound) return null;
    const codec = inbound.codecId ? report.get(inbound.codecId) : null;
    return {
      kind: inbound.kind,
      packetsReceived: inbound.packetsReceived || 0,
      bytesReceived: inbound.bytesReceived || 0,
      framesDecoded: inbound.framesDecoded || 0,
      packetsLost: inbound.packetsLost || 0,
      jitter: inbound.jitter || 0,
      keyFramesDecoded: inbound.keyFramesDecoded || 0,
      frameWidth: inbound.frameWidth || 0,
      frameHeight: inbound.frameHeight || 0,
      totalSamplesReceived: inbound.totalSamplesReceived || 0,
      mimeType: codec ? codec.mimeType : null,
      decoderImplementation: inbound.decoderImplementation || null,
    };
  }

  /** Outbound RTP of what we publish, per rid ("" without simulcast). */
  async outboundStats(source = "camera") {
    const entry = this.published.find((p) => p.source === source);
    if (!entry) return [];
    const report = await entry.transceiver.sender.getStats();
    const out = [];
    report.forEach((s) => {
      if (s.type !== "outbound-rtp") return;
      const codec = s.codecId ? report.get(s.codecId) : null;
      out.push({
        rid: s.rid || "",
        packetsSent: s.packetsSent || 0,
        framesEncoded: s.framesEncoded || 0,
        frameWidth: s.frameWidth || 0,
        frameHeight: s.frameHeight || 0,
        active: s.active !== false,
        qualityLimitationReason: s.qualityLimitationReason || null,
        mimeType: codec ? codec.mimeType : null,
      });
    });
    return out;
  }

  // ---- plumbing ----------------------------------------------------------------------

  /** Whether the SFU has this client's transport (slots can be viewed, candidates sent). */
  get mediaReady() {
    return this._sfuReady;
  }

  /** Emit any event of the protocol with an ack; resolves to the ack, throws SfuError. */
  request(event, payload) {
    return this._call(event, payload);
  }

  async _call(event, payload) {
    if (!this.socket) throw new SfuError("not_connected", "call connect() first");
    const ack = await this.socket.timeout(this.options.ackTimeoutMs).emitWithAck(event, payload);
    if (!ack || !ack.ok) {
      const error = (ack && ack.error) || { code: "no_ack", message: `${event} failed` };
      throw new SfuError(error.code, error.message);
    }
    return ack;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
