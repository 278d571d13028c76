// msgpackr treats a failing require of this optional package as "use the JavaScript decoder".
throw new Error('msgpackr-extract is not installed in this project (see package.json overrides)')
