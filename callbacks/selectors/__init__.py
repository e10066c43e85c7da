"""Reads of the callbacks app: querysets scoped to an account, with the filters the API and screens use."""
