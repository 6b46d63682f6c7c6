"""Finding 8: IPv4-compatible IPv6 addresses (::/96) and other special-purpose ranges
passed the SSRF filter, and refusals echoed resolved internal addresses."""

import ipaddress

from django.test import SimpleTestCase, override_settings

from workflows import actions

REFUSED = [
    "http://[::7f00:1]/x",  # IPv4-compatible ::127.0.0.1
    "http://[::a00:1]/x",  # IPv4-compatible ::10.0.0.1
    "http://[::ffff:127.0.0.1]/x",  # IPv4-mapped
    "http://[64:ff9b::a00:1]/x",  # NAT64 well-known prefix -> 10.0.0.1
    "http://[64:ff9b::808:808]/x",  # NAT64, even to a public address
    "http://[64:ff9b:1::1]/x",  # local-use NAT64
    "http://[2002:a00:1::1]/x",  # 6to4 embedding 10.0.0.1
    "http://[2001::1]/x",  # Teredo
    "http://[2001:3::1]/x",  # AMT (IANA: globally reachable, still special-purpose)
    "http://[2620:4f:8000::1]/x",  # AS112-v6
    "http://[100::1]/x",  # discard-only
    "http://[fec0::1]/x",  # deprecated site-local
    "http://[fd00::1]/x",  # unique local
    "http://[fe80::1]/x",  # link-local
    "http://[ff02::1]/x",  # multicast
    "http://[::]/x",
    "http://[::1]/x",
    "http://0.0.0.0/x",
    "http://127.0.0.2/x",
    "http://10.1.2.3/x",
    "http://100.64.0.1/x",
    "http://169.254.169.254/latest",
    "http://192.0.0.9/x",
    "http://192.31.196.1/x",  # AS112 (IANA: globally reachable, still special-purpose)
    "http://192.52.193.1/x",  # AMT
    "http://192.175.48.1/x",  # AS112 direct delegation
    "http://198.18.0.1/x",
    "http://224.0.0.1/x",
    "http://240.0.0.1/x",
    "http://255.255.255.255/x",
    "http://localhost/x",  # a name that resolves to loopback
]


@override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=False)
class SpecialPurposeTargetsTests(SimpleTestCase):
    def call(self, url: str) -> actions.ActionError:
        with self.assertRaises(actions.ActionError) as caught:
            actions.post_json(url=url, payload={}, secret="s", idempotency_key="k", timeout=3)
        return caught.exception

    def test_every_special_purpose_target_is_refused_without_echoing_addresses(self) -> None:
        for url in REFUSED:
            with self.subTest(url=url):
                error = self.call(url)
                self.assertIn("Refused", str(error))
                self.assertFalse(error.transient)
                for address in ("127.0.0.1", "::1", "10.0.0.1", "7f00", "a00:1", "169.254"):
                    self.assertNotIn(address, str(error))

    def test_the_rule_itself(self) -> None:
        for address in ("8.8.8.8", "1.1.1.1", "2a00:1450:4001:80b::200e", "2606:4700:4700::1111"):
            with self.subTest(address=address):
                self.assertFalse(actions.is_special_purpose(ipaddress.ip_address(address)))
        for address in ("::8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1", "::ffff:8.8.8.8", "192.0.2.1"):
            with self.subTest(address=address):
                self.assertTrue(actions.is_special_purpose(ipaddress.ip_address(address)))
