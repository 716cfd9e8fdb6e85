"""Errors caused by the user's input: the tools print their one-line message, not a traceback."""


class UserError(Exception):
    """Bad input (config, data, checkpoint); the message names the file or key and the fix."""


class ConfigError(UserError, ValueError):
    pass


class DataError(UserError, ValueError):
    pass


class CheckpointError(UserError, ValueError):
    pass
