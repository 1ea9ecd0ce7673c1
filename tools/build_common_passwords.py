"""Build directory/data/common-passwords.txt.gz from the list Django ships.

Django's list (BSD licence) is Royce Williams' list of 20,000 common passwords, lower-cased.
Usage: python tools/build_common_passwords.py   (downloads the Django wheel from PyPI with pip)
"""

import gzip
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "directory" / "data" / "common-passwords.txt.gz"
MEMBER = "django/contrib/auth/common-passwords.txt.gz"


def main() -> None:
    """Download Django's wheel, extract the password list, write it sorted and de-duplicated."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp,
             "django>=5.0"],
            check=True,
        )
        wheel = next(Path(tmp).glob("django-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            raw = gzip.decompress(zf.read(MEMBER)).decode()
    words = sorted({line.strip().lower() for line in raw.splitlines() if line.strip()})
    OUT.write_bytes(gzip.compress(("\n".join(words) + "\n").encode(), mtime=0))
    print(f"wrote {len(words)} passwords to {OUT}")


if __name__ == "__main__":
    main()
