"""What the SFU needs to know about payloads, read without decoding them."""


def vp8_keyframe_start(payload: bytes | memoryview) -> bool:
    """True for the first packet of a VP8 keyframe (RFC 7741 §4.2-4.3).

    Payload descriptor: X R N S R PID(3), optional extension bytes; then the VP8 payload
    header whose lowest bit P is 0 for a keyframe, valid only at the start of partition 0.
    """
    if len(payload) < 2:
        return False
    first = payload[0]
    if not first & 0x10 or first & 0x07:  # S must be set, PID must be 0
        return False
    pos = 1
    if first & 0x80:  # X: extension control byte
        if len(payload) < 2:
            return False
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX
            pos += 1
    return len(payload) > pos and not payload[pos] & 0x01
