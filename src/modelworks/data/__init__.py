"""Data assets as tables: reading ``uri_file``/``uri_folder``/``mltable`` data and profiling it.

- :mod:`modelworks.data.readers`: ``read_table`` (any Azure ML data type, local or fsspec URL),
  ``write_mltable`` and ``dataframe_to_files`` (Azure-style MLTable folders).
- :mod:`modelworks.data.profile`: ``profile_table`` (schema, counts, missing values,
  statistics, histograms) as JSON-safe dicts stored with each data version.

Nothing is imported here, so that importing the package stays cheap; import the modules.
"""
