"""The one error every image-reading transform raises for a file it cannot read."""


class UnreadableImageError(OSError):
    """An image file that is missing, empty, truncated or not an image.

    Transforms that read images raise it (never a bare decoder error), so that the message
    always names the file and a dataset can choose to skip such samples.

    Args:
        path (str): The file that could not be read.
        reason (str): Why, in a few words ("empty file", "truncated JPEG", ...).
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f'cannot read image {self.path}: {reason}')

    def __reduce__(self):  # survives the trip from a dataloader worker to the main process
        return type(self), (self.path, self.reason)
