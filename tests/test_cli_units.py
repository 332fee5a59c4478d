"""The ``podsim`` command line: sizes, times and rates as the user types and reads them."""

from __future__ import annotations

import pytest

from podsim.units import exact_size, exact_time, format_bytes, format_rate, parse_size, parse_time_ps, parse_window_ps


def test_parse_time_and_window() -> None:
    assert parse_time_ps("250ns") == 250_000
    assert parse_time_ps("1.5us") == 1_500_000
    assert parse_time_ps("2ms") == 2 * 10**9
    assert parse_time_ps("7ps") == 7 and parse_time_ps("0") == 0
    with pytest.raises(ValueError, match=r"retransmit_timeout: '10' needs a unit \(ps, ns, us, ms or s\), e.g. 250ns"):
        parse_time_ps("10", "retransmit_timeout")  # 10 ps, or 10 us? It used to be 10 ps, silently
    assert parse_window_ps("10us:20us") == (10**7, 2 * 10**7)
    assert parse_window_ps(":5us") == (0, 5 * 10**6)
    assert parse_window_ps("1us:") == (10**6, None)
    for bad in ("5 parsecs", "0.5ps", "-1us"):
        with pytest.raises(ValueError, match="time"):
            parse_time_ps(bad)
    for bad in ("10us", "20us:10us", "1:2:3"):
        with pytest.raises(ValueError, match="window"):
            parse_window_ps(bad)


def test_decimal_units_are_exact() -> None:
    """Decimal fractions are parsed exactly, not through binary floats."""
    assert parse_time_ps("2.01ns") == 2010
    assert parse_size("16.1KB") == 16_100
    assert parse_size("9007199254740993") == 9_007_199_254_740_993  # 2^53 + 1
    with pytest.raises(ValueError, match=r"size: must be a whole number of bytes >= 1, got '1.5' = 1.5 B"):
        parse_size("1.5")
    with pytest.raises(TypeError, match="size: expected a string"):
        parse_size(None)  # type: ignore[arg-type]
    assert parse_size("4kB") == parse_size("4KB") == 4000 and parse_size("4KiB") == 4096
    for bits in ("4Kb", "4kb", "1Gb", "8b", "4Kib"):  # it used to run 4Kb as 4,000 bytes
        with pytest.raises(ValueError, match=r"is in bits \(a lower-case b\); sizes are in bytes"):
            parse_size(bits)


@pytest.mark.parametrize("n", [1, 1000, 1024, 65536, 1_000_000, 3 << 20, 5 << 30, 7 << 40, 2**48 - 1])
def test_exact_sizes_and_times_read_back(n: int) -> None:
    """What the CLI shows as typed (its defaults) parses back to the same value."""
    assert parse_size(exact_size(n)) == n and parse_time_ps(exact_time(n)) == n
    assert exact_size(65536) == "64KiB" and exact_size(1_000_000) == "1000000" and exact_time(2_000_000) == "2us"


def test_sizes_never_show_an_exponent() -> None:
    assert format_bytes(1_033_973) == "1010 KiB"  # was '1.01e+03 KiB'
    assert format_bytes(14563) == "14.2 KiB" and format_bytes(3_000_000) == "2.86 MiB" and format_bytes(5000 * 2**40) == "5000 TiB"


def test_rates_stay_in_tb_per_s() -> None:
    assert format_rate(1.2288e15, "uni") == "1229 TB/s uni"
    assert format_rate(28e9, "bidi") == "28 GB/s bidi"
