"""The CLI prints user data (MACs, names) as it is: no emoji codes replaced."""

from __future__ import annotations

from neutrino.cli.options import console, err_console


def test_a_mac_with_an_emoji_code_prints_as_it_is() -> None:
    for out in (console, err_console):
        with out.capture() as captured:
            out.print("missing fdb vxlan-2 fa:16:3e:ab:3f:57 dst 198.51.100.2", markup=False)
        assert "fa:16:3e:ab:3f:57" in captured.get()
