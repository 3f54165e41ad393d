#!/usr/bin/env python3
"""Writes the cases of the phone-number equivalence test (engine/tests/it/phones.rs).

Usage: phone-equivalence.py OUT.tsv NUMBERS [SEED]

NUMBERS numbers are generated over the regions below: each region's example numbers
of several types with their last digits drawn at random, so most are valid and some
are not. Each is written in every way people write numbers, and libphonenumber (its
Python port, `phonenumbers`, at the release whose metadata Dialpool carries) says what
each rendering is: its E.164 digits, or empty when it is not a valid number; and, for
the E.164 rendering of a valid number, the time zones it rings in.

Lines: region, rendering, raw text, expected E.164 digits (or empty), zones joined by &.
"""
import multiprocessing
import os
import random
import sys

import phonenumbers
from phonenumbers import PhoneNumberFormat as F
from phonenumbers import PhoneNumberType as T
from phonenumbers import timezone

REGIONS = [
    "RU", "KZ", "UZ", "BY", "UA", "US", "CA", "MX", "BR", "AR", "GB", "DE", "FR", "IT",
    "ES", "PL", "TR", "IL", "AE", "IN", "CN", "JP", "AU", "ZA", "NG", "EG", "ID", "KG",
]
TYPES = [T.FIXED_LINE, T.MOBILE, T.FIXED_LINE_OR_MOBILE, T.TOLL_FREE]


def parsed(raw, region):
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, F.E164)[1:]


def examples():
    found = []
    for region in REGIONS:
        for kind in TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.append((region, example))
    return found


def main():
    out, count = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    # Two halves on two processes: libphonenumber's port takes ~50 µs a parse.
    halves = [(f"{out}.{i}", range(i, count, 2), seed + i) for i in range(2)]
    with multiprocessing.Pool(2) as pool:
        pool.map(write_cases, halves)
    with open(out, "w", encoding="utf-8") as f:
        for part, _, _ in halves:
            with open(part, encoding="utf-8") as p:
                f.write(p.read())
            os.remove(part)


def write_cases(job):
    out, indices, seed = job
    rng = random.Random(seed)
    found = examples()
    with open(out, "w", encoding="utf-8") as f:
        for i in indices:
            region, example = found[i % len(found)]
            nsn = phonenumbers.national_significant_number(example)
            keep = max(1, len(nsn) - rng.randint(3, 6))
            digits = nsn[:keep] + "".join(rng.choice("0123456789") for _ in nsn[keep:])
            cc = str(example.country_code)
            number = phonenumbers.parse("+" + cc + digits, None)
            international = phonenumbers.format_number(number, F.INTERNATIONAL)
            national = phonenumbers.format_number(number, F.NATIONAL)
            renderings = {
                "e164": "+" + cc + digits,
                "international": international,
                "double_zero": "00" + cc + digits,
                "national": national,
                "national_without_trunk": digits,
                "code_without_plus": cc + digits,
                "dots": national.replace("(", "").replace(")", "").replace(" ", ".").replace("-", "."),
                "dashes": international.replace(" ", "-"),
                "spaces": "+" + cc + " " + " ".join(digits[j:j + 3] for j in range(0, len(digits), 3)),
            }
            for kind, raw in renderings.items():
                expected = parsed(raw, region)
                zones = ""
                if kind == "e164" and expected:
                    zones = "&".join(timezone.time_zones_for_number(phonenumbers.parse(raw, None)))
                f.write(f"{region}\t{kind}\t{raw}\t{expected}\t{zones}\n")


if __name__ == "__main__":
    main()
