"""Hooks: the sync ``SixtyfourHook`` and its async twin ``SixtyfourAsyncHook``."""
