"""Problems larger than one pass of the array: the host plans blocks and joins their results."""
