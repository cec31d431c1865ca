"""The host side of the UART host link: a board as a backend."""
