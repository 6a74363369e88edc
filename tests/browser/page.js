// The page under test: the real Uppy (pinned in package.json), bundled by esbuild.
// `window.runScenarios(list)` runs each scenario with its own Uppy and reports what Uppy saw.
import Uppy from '@uppy/core'
import AwsS3 from '@uppy/aws-s3'
import Tus from '@uppy/tus'

async function fileOf ({ name, type, url }) {
  const blob = await (await fetch(url)).blob()
  return { name, type, data: new File([blob], name, { type }) }
}

async function runOne (scenario) {
  const uppy = new Uppy({ autoProceed: false })
  if (scenario.tus) {
    uppy.use(Tus, {
      endpoint: scenario.tus.endpoint,
      headers: { Authorization: `Bearer ${scenario.tus.token}` },
      retryDelays: null,
    })
  } else {
    uppy.use(AwsS3, {
      companionEndpoint: scenario.endpoint,
      shouldUseMultipart: Boolean(scenario.multipart),
    })
  }
  for (const f of scenario.files) uppy.addFile(await fileOf(f))
  const started = {} // file name -> {key, uploadId} of its multipart upload
  const errors = []
  let acted = false
  uppy.on('upload-error', (file, error) => errors.push({ name: file.name, message: String(error && error.message) }))
  uppy.on('s3-multipart:part-uploaded', (file) => {
    started[file.name] = uppy.getFile(file.id)?.s3Multipart || started[file.name]
    if (acted) return
    acted = true
    if (scenario.action === 'cancel') uppy.removeFile(file.id)
    if (scenario.action === 'pause') {
      uppy.pauseResume(file.id) // paused: its requests in flight are aborted
      setTimeout(() => uppy.pauseResume(file.id), 500)
    }
  })
  const began = performance.now()
  const result = await uppy.upload()
  const seconds = (performance.now() - began) / 1000
  const outcome = {
    name: scenario.name,
    seconds,
    started,
    errors,
    successful: (result?.successful || []).map((f) => ({
      name: f.name,
      key: f.response?.body?.key ?? null,
      location: f.response?.uploadURL ?? null,
    })),
    failed: (result?.failed || []).map((f) => f.name),
  }
  uppy.destroy()
  return outcome
}

window.runScenarios = async (scenarios) => {
  const outcomes = []
  for (const scenario of scenarios) {
    try {
      outcomes.push(await runOne(scenario))
    } catch (error) {
      outcomes.push({ name: scenario.name, thrown: String(error && error.stack) })
    }
  }
  return outcomes
}
