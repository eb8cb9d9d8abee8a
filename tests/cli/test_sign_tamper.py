"""perch wasm verify against tampered modules and malformed signatures and
keyrings: every change after signing is caught, every bad input is named."""
import base64
import json

from perchtest import main, perch
from test_sign import SigningCase, custom, find, jload, sections, signature_payload


class Tampering(SigningCase):
    # ---- tampering -------------------------------------------------------

    def test_a_flipped_byte_in_each_section_kind_is_caught(self):
        _, ring, data = self.signed()
        for sid, name in [(1, None), (3, None), (5, None), (7, None), (10, None),
                          (11, None), (0, "vendor.note"), (0, "perch.manifest")]:
            _, start, content, end, _ = find(data, sid, name)
            with self.subTest(section=name or sid):
                d = self.assertCaught(self.flip(data, end - 1), "signature",
                                      "manifest_signature_invalid", ring)
                self.assertIn("does not match the module", self.checks(d)["signature"]["message"])
        # the header has one valid spelling: any change is not a module any more
        r = perch("wasm", "verify", "--trust-keys", ring, self.write("h.wasm", self.flip(data, 7)))
        self.assertError(r, "wasm_malformed")

    def test_the_signatures_own_fields_are_caught(self):
        akey, aring = self.keygen("alice")
        _, bring = self.keygen("bob")
        both = self.write("both.json", json.dumps({"keys": jload(aring)["keys"] +
                                                   jload(bring)["keys"]}))
        self.sign(akey)
        data = self.read(self.mod)
        payload = signature_payload(data)
        start = find(data, 0, "perch.signature")[1]
        obj = json.loads(payload)

        def with_payload(p):
            return data[:start] + custom("perch.signature", p)

        def field(key, value):
            o = dict(obj)
            o[key] = value
            return with_payload(json.dumps(o, separators=(",", ":")).encode())

        sig = bytearray(base64.b64decode(obj["sig"]))
        sig[10] ^= 1
        self.assertCaught(field("sig", base64.b64encode(bytes(sig)).decode()), "signature",
                          "manifest_signature_invalid", both)
        pub = bytearray(base64.b64decode(obj["pubkey"]))
        pub[5] ^= 1
        self.assertCaught(field("pubkey", base64.b64encode(bytes(pub)).decode()), "signature",
                          "manifest_signature_invalid", both)
        # claiming to be bob: the signature still matches alice's key, and the
        # keyring binds the name bob to another key
        d = self.assertCaught(field("signer", "bob"), "signer",
                              "manifest_signer_untrusted", both)
        self.assertIn("bob is in the keyring with another key", self.checks(d)["signer"]["message"])
        self.assertEqual(self.checks(d)["signature"]["status"], "pass")
        self.assertCaught(field("algo", "ed448"), "format", "manifest_signature_invalid", both)

    def test_structural_changes_are_caught(self):
        _, ring, data = self.signed()
        sig_start = find(data, 0, "perch.signature")[1]
        sig = data[sig_start:]
        body = data[:sig_start]
        # append a section after signing (after the signature, and before it)
        self.assertCaught(data + custom("extra", b"x"), "signature",
                          "manifest_signature_invalid", ring)
        self.assertCaught(body + custom("extra", b"x") + sig, "signature",
                          "manifest_signature_invalid", ring)
        # insert a second manifest section
        m = find(data, 0, "perch.manifest")
        d = self.assertCaught(body + data[m[1]:m[3]] + sig, "signature",
                              "manifest_signature_invalid", ring)
        self.assertEqual(self.checks(d)["manifest"]["kind"], "manifest_malformed")
        self.assertIn("two perch.manifest sections", self.checks(d)["manifest"]["message"])
        # move sections: the two custom sections swapped
        note = find(data, 0, "vendor.note")
        self.assertLessEqual(note[3], m[1])
        moved = (data[:note[1]] + data[note[3]:m[3]] + data[note[1]:note[3]] + data[m[3]:])
        self.assertEqual(len(moved), len(data))
        self.assertCaught(moved, "signature", "manifest_signature_invalid", ring)
        # move the signature itself to the front: still valid (it is not hashed)
        front = data[:8] + sig + data[8:sig_start]
        self.verify(ring, self.write("front.wasm", front), code=0)
        # duplicate the signature section
        d = self.assertCaught(data + sig, "section", "manifest_signature_invalid", ring)
        self.assertIn("2 perch.signature sections", self.checks(d)["section"]["message"])
        # cut a whole section out (the data), and cut the signature off
        dsec = find(data, 11)
        self.assertCaught(data[:dsec[1]] + data[dsec[3]:], "signature",
                          "manifest_signature_invalid", ring)
        d = self.assertCaught(body, "section", "manifest_unsigned", ring)
        self.assertEqual(self.checks(d)["section"]["message"],
                         "no perch.signature section: the module is unsigned")
        # truncated in the middle of a section: not a module any more
        for n in [1, len(sig) // 2, len(sig) + 3]:
            r = perch("wasm", "verify", "--trust-keys", ring,
                      self.write("cut.wasm", data[:-n]))
            self.assertError(r, "wasm_malformed")

    def test_malformed_keyrings_are_errors(self):
        key, ring = self.keygen("alice")
        self.sign(key)
        pub = jload(ring)["keys"][0]["pubkey"]
        cases = [
            ("{", "not valid JSON"),
            ('{"keys":[],"keys":[]}', "duplicate object key"),
            ('{"keys":[{"signer":"alice","algo":"ed25519","pubkey":"%s","x":1}]}' % pub,
             'keys[0]: unknown key "x"'),
            ('{"keys":[{"signer":"alice","algo":"ed25519","pubkey":"%s"}]}' % pub[:-4],
             "keys[0].pubkey: decodes to the wrong number of bytes"),
            ('{"keys":[{"signer":"alice","algo":"ed25519","pubkey":"%s"}]}'
             % base64.b64encode(b"\0" * 33).decode(), "keys[0].pubkey: "),
            ('{"keys":[{"signer":"alice","algo":"ed25519","pubkey":"%s\\n"}]}' % pub,
             "keys[0].pubkey: not base64"),
            ('{"keys":[{"signer":"%s","algo":"ed25519","pubkey":"%s"}]}' % ("a" * 129, pub),
             "keys[0].signer: the signer name is longer than 128 bytes"),
            ('{"keys":[{"signer":"alice","algo":"rsa","pubkey":"%s"}]}' % pub,
             'keys[0].algo: expected "ed25519"'),
        ]
        for text, msg in cases:
            with self.subTest(msg=msg):
                p = self.write("ring.json", text)
                r = perch("wasm", "verify", "--trust-keys", p, self.mod)
                self.assertError(r, "policy_invalid")
                self.assertIn(msg, r.err)
                self.assertIn("ring.json: keyring: ", r.err)
        big = self.write("big.json", '{"keys":[' + " " * (1 << 20) + "]}")
        r = perch("wasm", "verify", "--trust-keys", big, self.mod)
        self.assertError(r, "policy_invalid")
        self.assertIn("the limit is 1048576", r.err)
        r = perch("wasm", "verify", "--trust-keys", self.path("nope.json"), self.mod)
        self.assertError(r, "io")
        r = perch("wasm", "verify", self.mod)
        self.assertError(r, "usage")
        self.assertIn("--trust-keys KEYRING is required", r.err)

    def test_malformed_signature_payloads(self):
        _, ring, data = self.signed()
        start = find(data, 0, "perch.signature")[1]
        obj = json.loads(signature_payload(data))
        body = data[:start]
        cases = [
            (b"not json", "not valid JSON"),
            (b"[]", "expected a JSON object"),
            (json.dumps({k: obj[k] for k in ["algo", "signer", "pubkey"]}).encode(),
             'missing "sig"'),
            (b'{"algo":"ed25519","algo":"ed25519","signer":"alice","pubkey":"%s","sig":"%s"}'
             % (obj["pubkey"].encode(), obj["sig"].encode()), "duplicate object key"),
            (json.dumps(dict(obj, extra="x")).encode(), 'unknown key "extra"'),
            (json.dumps(dict(obj, sig=obj["sig"].rstrip("="))).encode(), '"sig": not base64'),
            (json.dumps(dict(obj, sig=obj["sig"][:-3] + "B==")).encode(),
             '"sig": not canonical base64: non-zero bits before the padding'),
            (json.dumps(dict(obj, pubkey=" " + obj["pubkey"][1:])).encode(), '"pubkey": not base64'),
            (json.dumps(dict(obj, sig=base64.b64encode(b"\0" * 67).decode())).encode(),
             '"sig": decodes to the wrong number of bytes'),
            (json.dumps(dict(obj, signer="a" * 129)).encode(),
             '"signer": the signer name is longer than 128 bytes'),
            (json.dumps(dict(obj, signer="al ice")).encode(), '"signer": the signer name has'),
            (json.dumps(dict(obj, signer=5)).encode(), '"signer": expected a string'),
            (json.dumps(dict(obj, pad="x" * 5000)).encode(),
             "bytes; the limit is 4096"),
        ]
        for payload, msg in cases:
            with self.subTest(msg=msg):
                d = self.assertCaught(body + custom("perch.signature", payload), "format",
                                      "manifest_signature_invalid", ring)
                self.assertIn(msg, self.checks(d)["format"]["message"])
                self.assertEqual(self.checks(d)["signature"]["status"], "skipped")


if __name__ == "__main__":
    main()
