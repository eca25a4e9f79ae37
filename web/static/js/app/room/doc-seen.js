// Which documents of a meeting this participant has already looked at, and in which version,
// remembered in localStorage per meeting and participant (a commune room's shared browser is
// used by several people one after the other). It decides the "Mới" (never opened) and
// "Cập nhật" (opened, but a newer version is out) flags of the documents panel.
//
// Exports:
//   SeenStore                      new SeenStore(meetingId, participantKey)
//     .flag(document)              "new" | "updated" | "" for a DocumentOut
//     .markSeen(document)          remember its current version as looked at

const PREFIX = "phonghop.docs.seen";

export class SeenStore {
  /**
   * @param {number} meetingId
   * @param {string} participantKey  room.self.key ("account:4", "endpoint:2")
   */
  constructor(meetingId, participantKey) {
    this.key = `${PREFIX}.${meetingId}.${participantKey}`;
    this.versions = this._load(); // document id (string) → version number seen
  }

  _load() {
    try {
      const stored = JSON.parse(localStorage.getItem(this.key) || "{}");
      return stored && typeof stored === "object" ? stored : {};
    } catch {
      return {}; // unreadable or storage disabled: everything counts as new
    }
  }

  /**
   * The flag of a document: "new" if never opened here, "updated" if opened in an older
   * version, "" if its current version was opened.
   * @param {{id: number, current_version: number}} document
   * @returns {"new" | "updated" | ""}
   */
  flag(document) {
    const seen = this.versions[String(document.id)];
    if (seen === undefined) {
      return "new";
    }
    return seen < document.current_version ? "updated" : "";
  }

  /**
   * Remember the document's current version as looked at.
   * @param {{id: number, current_version: number}} document
   */
  markSeen(document) {
    const id = String(document.id);
    if ((this.versions[id] ?? 0) >= document.current_version) {
      return;
    }
    this.versions[id] = document.current_version;
    try {
      localStorage.setItem(this.key, JSON.stringify(this.versions));
    } catch {
      // storage full or disabled: the flag clears for this page only
    }
  }
}
