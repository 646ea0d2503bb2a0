import io

from kiosk.admin.progress import ProgressBar


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_on_a_terminal() -> None:
    out = Tty()
    bar = ProgressBar(out, width=10)
    bar("[1/2] a.opus: uploaded 5 KiB")
    bar("[2/2] b.opus: uploaded 7 KiB")
    text = out.getvalue()
    assert "\r[#####.....] 1/2 a.opus" in text and "\r[##########] 2/2 b.opus" in text
    assert text.endswith("\n")


def test_plain_lines_elsewhere() -> None:
    out = io.StringIO()
    ProgressBar(out)("[1/2] a.opus: uploaded 5 KiB")
    assert out.getvalue() == "[1/2] a.opus: uploaded 5 KiB\n"
