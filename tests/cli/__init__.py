"""Tests of the binstream command, run as a user runs it."""
